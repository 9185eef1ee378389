import { BlockStore } from "../../aggregator/ledger/store.js";
import { machineForLedger } from "../../aggregator/node/verify.js";
import { agentView } from "../../aggregator/state/views.js";
import type { DemoLayout } from "./setup.js";

export interface LedgerSummary {
  height: number;
  stateHash: string;
  applied: Record<string, number>;
  rejected: Record<string, number>;
  supplyMc: number;
  walletTotalMc: number;
  agents: { id: string; balanceMc: number; frozenMc: number; reputation: number; blacklisted: boolean }[];
  loans: { total: number; repaid: number };
}

/** Re-executes one aggregator's ledger and summarises what happened in it. */
export function summariseLedger(dbFile: string, layout: DemoLayout, height?: number): LedgerSummary {
  const store = new BlockStore(dbFile, { readonly: true });
  try {
    const machine = machineForLedger(store, layout.genesisFile);
    const applied: Record<string, number> = {};
    const rejected: Record<string, number> = {};
    const end = height ?? store.head().nextSeq;
    for (let from = 0; from < end; from += 256) {
      for (const e of store.list(from, Math.min(256, end - from))) {
        const h = e.block.header;
        for (const tx of e.block.txs) {
          const r = machine.apply(tx, { time: h.time, height: e.seq, proposer: h.proposer });
          const env = tx as { type?: string; body?: { type?: string } };
          const kind = env.type === "sys" ? `sys:${env.body?.type}` : String(env.type);
          if (r.ok) applied[kind] = (applied[kind] ?? 0) + 1;
          else rejected[`${kind} ${r.code}`] = (rejected[`${kind} ${r.code}`] ?? 0) + 1;
        }
      }
    }
    const state = machine.state;
    let walletTotalMc = 0;
    for (const w of state.wallets.values()) walletTotalMc += w.balance;
    const agents = layout.agents.map((a) => {
      const v = agentView(state, a.id);
      const balanceMc = v?.wallets.reduce((n, w) => n + w.balanceMc, 0) ?? 0;
      const frozenMc = v?.wallets.reduce((n, w) => n + w.frozenMc, 0) ?? 0;
      return {
        id: a.id,
        balanceMc,
        frozenMc,
        reputation: v?.reputation.active ?? 0,
        blacklisted: v?.blacklisted ?? false,
      };
    });
    const loans = Object.values(machine.credit().loans) as { status?: string }[];
    return {
      height: end,
      stateHash: machine.stateHash(),
      applied,
      rejected,
      supplyMc: state.supply,
      walletTotalMc,
      agents,
      loans: { total: loans.length, repaid: loans.filter((l) => l.status === "repaid").length },
    };
  } finally {
    store.close();
  }
}

export function ledgerHeightOf(dbFile: string): number {
  try {
    const store = new BlockStore(dbFile, { readonly: true });
    try {
      return store.head().nextSeq;
    } finally {
      store.close();
    }
  } catch {
    return 0;
  }
}
