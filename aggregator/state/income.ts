import type { Agent, TradingState } from "./types.js";

/**
 * Recent income from energy sales per agent: what the credit bank checks as "regular income" (seed 000
 * §III). Bounded, so the state does not grow with history; one record per settling transaction.
 */
export const INCOME_RECORDS_KEPT = 64;

export function recordIncome(agent: Agent, timeMs: number, amountMc: number): void {
  const last = agent.income[agent.income.length - 1];
  if (last && last.time === timeMs) {
    last.amountMc += amountMc;
    return;
  }
  agent.income.push({ time: timeMs, amountMc });
  if (agent.income.length > INCOME_RECORDS_KEPT)
    agent.income.splice(0, agent.income.length - INCOME_RECORDS_KEPT);
}

/** Sale income of `owner` at or after `sinceMs`, oldest first (the credit module's `incomeSince`). */
export function incomeSince(
  state: TradingState,
  owner: string,
  sinceMs: number,
): readonly { time: number; amountMc: number }[] {
  const a = state.agents.get(owner);
  if (!a) return [];
  return a.income.filter((r) => r.time >= sinceMs).map((r) => ({ ...r }));
}
