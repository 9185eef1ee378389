import type { CreditState } from "../credit/state.js";
import type { Tx } from "../state/handler.js";
import { dueSystemTxs } from "../state/schedule.js";
import type { TradingState } from "../state/types.js";
import type { LedgerGenesis } from "./genesis.js";
import type { IdentityRegistry } from "./registry.js";

export interface DutyOptions {
  /** consortium members in consensus order */
  members: readonly string[];
  self: string;
  /** a duty designated to another member is taken over once it is this late */
  fallbackMs: number;
  /** period of `credit.sweep` */
  sweepEveryMs: number;
}

/**
 * The system transactions this aggregator should send now, from the committed state and its clock.
 * Pure. Clearing, settlement and sweeps have deterministic ids, so one member is designated for each
 * (the one whose index is the interval, or the sweep number, modulo n) and the others step in only when
 * it is `fallbackMs` late: duplicates would be harmless REPLAY refusals, but noise. Rewards are per
 * aggregator by definition; initial allocations are the agent's home aggregator's.
 */
export function systemDuties(
  state: TradingState,
  registry: IdentityRegistry,
  genesis: LedgerGenesis,
  credit: CreditState | undefined,
  now: number,
  o: DutyOptions,
): Tx[] {
  const p = state.params;
  const n = o.members.length;
  const mine = (k: number, dueMs: number) => o.members[k % n] === o.self || now >= dueMs + o.fallbackMs;
  const out: Tx[] = [];
  for (const tx of dueSystemTxs(state, now, o.self)) {
    const interval = (tx.body as { interval?: number }).interval;
    if (tx.type === "clear-interval" && interval !== undefined) {
      if (mine(interval, interval * p.intervalMs)) out.push(tx);
    } else if (tx.type === "settle-due" && interval !== undefined) {
      if (mine(interval, (interval + 1) * p.intervalMs + p.confirmWindowMs)) out.push(tx);
    } else out.push(tx);
  }
  if (genesis.allocation === "home-on-first-wallet") {
    for (const agent of [...state.agents.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (agent.allocated || agent.wallets.length === 0) continue;
      if (registry.agent(agent.id)?.home !== o.self) continue;
      out.push({
        id: `sys:alloc:${agent.id}`,
        type: "allocate",
        sender: o.self,
        body: { wallet: agent.wallets[0] },
      });
    }
  }
  if (
    credit !== undefined &&
    Object.values(credit.loans).some((l) => l.status === "offered" || l.status === "active")
  ) {
    const k = Math.floor(now / o.sweepEveryMs);
    if (k > 0 && !state.seenTx.has(`sys:sweep:${k}`) && mine(k, k * o.sweepEveryMs))
      out.push({ id: `sys:sweep:${k}`, type: "credit.sweep", sender: o.self, body: {} });
  }
  return out;
}
