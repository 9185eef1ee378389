import { z } from "zod";
import { reject } from "../state/errors.js";
import { defineHandler, type TradingModule } from "../state/handler.js";
import { mint } from "../state/ledger.js";
import type { TradingState } from "../state/types.js";

/**
 * Seed 000's proof-of-flow: per reward period, the seller whose settled deliveries at this aggregator add
 * up to the most energy is rewarded with newly minted coins, paid to its first wallet.
 */

export const rewardBodySchema = z.object({ period: z.number().int().min(0).max(1e12) }).strict();

/** The winner of a period: most Wh, ties to the smaller agent id (a deterministic, documented rule). */
export function flowWinner(
  state: TradingState,
  period: number,
): { agent: string; deliveredWh: number } | null {
  const f = state.flow.get(period);
  let best: { agent: string; deliveredWh: number } | null = null;
  for (const [agent, wh] of f ?? []) {
    if (!best || wh > best.deliveredWh || (wh === best.deliveredWh && agent < best.agent))
      best = { agent, deliveredWh: wh };
  }
  return best;
}

export function rewardPeriodDueMs(state: TradingState, period: number): number {
  const p = state.params;
  return (period + 1) * p.rewardPeriodIntervals * p.intervalMs + p.confirmWindowMs;
}

export const rewardsModule: TradingModule = {
  name: "rewards",
  handlers: {
    "reward-period": defineHandler({
      origin: "authority",
      schema: rewardBodySchema,
      apply(state, tx, ctx) {
        const { period } = tx.body;
        if (state.rewardsPaid.has(period))
          reject("REWARD_ALREADY_PAID", `period ${period} was already rewarded`);
        const due = rewardPeriodDueMs(state, period);
        if (ctx.time < due) reject("TOO_EARLY", `reward period ${period} closes at ${due}`, { period, due });
        const winner = flowWinner(state, period);
        state.rewardsPaid.add(period);
        state.flow.delete(period);
        if (!winner || state.params.rewardAmountMc === 0) return [{ type: "reward-none", period }];
        const wallet = state.wallets.get(state.agents.get(winner.agent)!.wallets[0])!;
        mint(state, wallet, state.params.rewardAmountMc);
        return [
          {
            type: "reward-paid",
            period,
            agent: winner.agent,
            wallet: wallet.address,
            deliveredWh: winner.deliveredWh,
            amountMc: state.params.rewardAmountMc,
          },
        ];
      },
    }),
  },
};
