import { join } from "node:path";
import { TestTls, type TlsFilesFor } from "../../bench/harness/tls.js";

export type { TlsFilesFor };

/**
 * A throw-away X.509 CA (gridlet's own, protocol/x509/tls-ca.ts: what `gridlet ca` issues) under `dir`,
 * with a server certificate for 127.0.0.1 and localhost and client certificates whose CN is each given
 * identity: what Mosquitto's use_identity_as_username needs.
 */
export async function makeTlsPki(
  dir: string,
  clients: string[],
): Promise<{ ca: string; server: TlsFilesFor; clients: Record<string, TlsFilesFor>; tls: TestTls }> {
  const tls = await new TestTls(join(dir, "x509")).init();
  const server = await tls.server("broker");
  const out: Record<string, TlsFilesFor> = {};
  for (const c of clients) out[c] = await tls.client(c);
  return { ca: tls.caPath, server, clients: out, tls };
}
