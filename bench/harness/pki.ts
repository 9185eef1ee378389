import { join } from "node:path";
import { CaDirectory } from "../../protocol/ca-dir.js";
import type { Certificate, KeyMaterial } from "../../protocol/identity.js";

export interface TestIdentity {
  id: string;
  cert: Certificate;
  key: KeyMaterial;
  certPath: string;
  keyPath: string;
}

export interface TestPki {
  ca: CaDirectory;
  caCertPath: string;
  revocationsPath: string;
  /** where every issued certificate is copied (an aggregator's trust.certDir) */
  certDir: string;
  aggregator: TestIdentity;
  agents: TestIdentity[];
}

/** A CA with one aggregator and some agents homed on it, written under `dir` with real key files. */
export function makePki(dir: string, aggregatorId: string, agentIds: string[]): TestPki {
  const ca = new CaDirectory(join(dir, "ca"));
  ca.init("test-ca");
  const out = join(dir, "identities");
  const agg = ca.issue({ role: "aggregator", id: aggregatorId }, out);
  const agents = agentIds.map((id) => ca.issue({ role: "agent", id, home: aggregatorId, wallets: 1 }, out));
  const asId = (i: typeof agg): TestIdentity => ({ id: i.cert.id, ...i });
  return {
    ca,
    caCertPath: ca.certPath,
    revocationsPath: ca.revocationsPath,
    certDir: join(dir, "ca", "certs"),
    aggregator: asId(agg),
    agents: agents.map(asId),
  };
}
