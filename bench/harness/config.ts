import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "#yaml";
import { tlsCaPaths } from "../../protocol/tls.js";
import type { TestPki } from "./pki.js";

/**
 * The `tls` of a client configuration: what the test gives, or for an mqtts:// URL the PKI's TLS CA
 * (bench/harness/tls.ts), as an operator would configure it.
 */
function tlsFor(url: string, given: object | undefined, pki: TestPki): { tls?: object } {
  if (given !== undefined) return { tls: given };
  const ca = tlsCaPaths(pki.ca.dir).cert;
  return /^(mqtts|wss):/.test(url) && existsSync(ca) ? { tls: { ca } } : {};
}

/** Writes an agent configuration with synthetic or given meters; returns its path. */
export function writeAgentConfig(
  dir: string,
  pki: TestPki,
  agentIndex: number,
  opts: {
    url: string;
    intervalMs?: number;
    meters?: Record<string, unknown>[];
    storePath?: string;
    /** mqtt.tls: the CA that checks the broker (mqtts:// URLs), a client certificate for Mosquitto */
    tls?: { ca?: string; cert?: string; key?: string };
  },
): string {
  const a = pki.agents[agentIndex];
  const path = join(dir, `${a.id}.yaml`);
  writeFileSync(
    path,
    stringify({
      version: 1,
      id: a.id,
      identity: { key: a.keyPath, cert: a.certPath, ca: pki.caCertPath, revocations: pki.revocationsPath },
      aggregator: { id: pki.aggregator.id, cert: pki.aggregator.certPath },
      mqtt: {
        url: opts.url,
        reconnectMinMs: 200,
        reconnectMaxMs: 1000,
        receiptTimeoutMs: 5000,
        keepaliveSeconds: 10,
        ...tlsFor(opts.url, opts.tls, pki),
      },
      store: { path: opts.storePath ?? join(dir, `${a.id}.sqlite`) },
      intervalMs: opts.intervalMs ?? 200,
      meters: opts.meters ?? [{ id: "main", driver: "synthetic", powerW: 3600 }],
    }),
  );
  return path;
}

export function writeAggregatorConfig(
  dir: string,
  pki: TestPki,
  broker:
    | { embeddedPort: number; host?: string; tls?: { cert: string; key: string; clientCa?: string } }
    | { url: string },
  opts: {
    /** broker.tls: the CA that checks an external broker's certificate, a client certificate */
    clientTls?: { ca?: string; cert?: string; key?: string };
    revocationsPollMs?: number;
    /** broker.embedded.limits (aggregator/broker/limits.ts) */
    limits?: Record<string, number>;
  } = {},
): string {
  const g = pki.aggregator;
  const path = join(dir, `${g.id}.yaml`);
  writeFileSync(
    path,
    stringify({
      version: 1,
      id: g.id,
      identity: { key: g.keyPath, cert: g.certPath, ca: pki.caCertPath, revocations: pki.revocationsPath },
      broker:
        "url" in broker
          ? { url: broker.url, ...tlsFor(broker.url, opts.clientTls, pki) }
          : {
              embedded: {
                host: broker.host ?? "127.0.0.1",
                port: broker.embeddedPort,
                ...(opts.limits === undefined ? {} : { limits: opts.limits }),
                ...(broker.tls === undefined ? {} : { tls: broker.tls }),
              },
              ...(opts.clientTls === undefined ? {} : { tls: opts.clientTls }),
            },
      store: { path: join(dir, `${g.id}.sqlite`) },
      trust: {
        certDir: pki.certDir,
        ...(opts.revocationsPollMs === undefined ? {} : { revocationsPollMs: opts.revocationsPollMs }),
      },
    }),
  );
  return path;
}
