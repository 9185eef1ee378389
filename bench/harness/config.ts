import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { TestPki } from "./pki.js";

/** Writes an agent configuration with synthetic or given meters; returns its path. */
export function writeAgentConfig(
  dir: string,
  pki: TestPki,
  agentIndex: number,
  opts: { url: string; intervalMs?: number; meters?: Record<string, unknown>[]; storePath?: string },
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
  broker: { embeddedPort: number } | { url: string },
  opts: {
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
          ? { url: broker.url }
          : {
              embedded: {
                host: "127.0.0.1",
                port: broker.embeddedPort,
                ...(opts.limits === undefined ? {} : { limits: opts.limits }),
              },
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
