import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CaDirectory, type Issued } from "../../protocol/ca-dir.js";
import type { Certificate } from "../../protocol/identity.js";

export interface ConsortiumIdentities {
  caDir: string;
  ca: Certificate;
  aggregators: Issued[];
  agents: Issued[];
  idsDir: string;
}

/**
 * Creates a CA and the identities of a small consortium in `dir`, starting afresh: n aggregators, each
 * with `agentsPer` agents (home = that aggregator, two wallets each).
 */
export function createConsortiumIdentities(
  dir: string,
  aggregatorCount: number,
  agentsPer: number,
  now: () => number = Date.now,
): ConsortiumIdentities {
  const caDir = join(dir, "ca");
  if (existsSync(caDir)) rmSync(caDir, { recursive: true });
  const idsDir = join(dir, "identities");
  if (existsSync(idsDir)) rmSync(idsDir, { recursive: true });
  const ca = new CaDirectory(caDir, { now });
  const caCert = ca.init("gridlet-demo-ca");
  const aggregators: Issued[] = [];
  const agents: Issued[] = [];
  for (let g = 1; g <= aggregatorCount; g++) {
    const agg = ca.issue({ role: "aggregator", id: `agg-${g}` }, idsDir);
    aggregators.push(agg);
    for (let a = 1; a <= agentsPer; a++) {
      const id = `agent-${g}-${a}`;
      agents.push(ca.issue({ role: "agent", id, home: agg.cert.id, wallets: 2 }, idsDir));
    }
  }
  return { caDir, ca: caCert, aggregators, agents, idsDir };
}
