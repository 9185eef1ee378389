import { existsSync, readFileSync } from "node:fs";
import { TlsCa } from "../../protocol/x509/tls-ca.js";

/** The TLS files of one end of a connection, as the configurations name them (`mqtt.tls`, `broker.tls`). */
export interface TlsFilesFor {
  ca: string;
  cert: string;
  key: string;
}

/** Hosts every test broker's certificate names: where test clients connect. */
export const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1"];

/**
 * The TLS CA of a test CA directory (`<caDir>/tls`, made by `gridlet ca init` in production), created on
 * first use, with what brokers and clients of a test need: `server(name, hosts)` a broker's server
 * certificate, `client(id)` a client certificate whose CN is the identity.
 */
export class TestTls {
  readonly ca: TlsCa;

  constructor(caDir: string) {
    this.ca = new TlsCa(caDir);
  }

  get caPath(): string {
    return this.ca.certPath;
  }

  async init(): Promise<this> {
    if (!this.ca.exists()) await this.ca.init("test-ca", 30);
    return this;
  }

  async server(name: string, hosts: string[] = LOOPBACK_HOSTS): Promise<TlsFilesFor> {
    const t = await this.ca.issueServer({ name, hosts: [...new Set(hosts)], force: true });
    return { ca: this.caPath, cert: t.certPath, key: t.keyPath };
  }

  async client(id: string): Promise<TlsFilesFor> {
    const t = await this.ca.issueClient({ id, force: true });
    return { ca: this.caPath, cert: t.certPath, key: t.keyPath };
  }
}

/** The TLS CA certificate of a CA directory, when it has one (for raw MQTT clients of a test). */
export function tlsCaOf(caDir: string): Buffer | undefined {
  const path = new TlsCa(caDir).certPath;
  return existsSync(path) ? readFileSync(path) : undefined;
}
