import { z } from "#zod";
import { reject } from "../state/errors.js";
import { defineHandler, type TradingModule } from "../state/handler.js";
import { mint } from "../state/ledger.js";
import type { TradingState } from "../state/types.js";

/**
 * Seed 000's proof-of-flow: per reward period, the seller whose settled deliveries add up to the most
 * energy among the agents of an aggregator (their home EAG) is rewarded with newly minted coins, paid to
 * its first wallet. Each aggregator sends the reward transaction for its own agents.
 */

export const rewardBodySchema = z.object({ period: z.number().int().min(0).max(1e12) }).strict();

export function rewardKey(period: number, aggregator: string): string {
  return `${period}/${aggregator}`;
}

/** The winner among `home`'s agents: most Wh, ties to the smaller agent id (deterministic, documented). */
export function flowWinner(
  state: TradingState,
  period: number,
  home: string,
): { agent: string; deliveredWh: number } | null {
  let best: { agent: string; deliveredWh: number } | null = null;
  for (const [agent, wh] of state.flow.get(period) ?? []) {
    if (state.agents.get(agent)!.home !== home) continue;
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
        const home = tx.sender;
        const key = rewardKey(period, home);
        if (state.rewardsPaid.has(key))
          reject("REWARD_ALREADY_PAID", `period ${period} was already rewarded at ${home}`);
        const due = rewardPeriodDueMs(state, period);
        if (ctx.time < due) reject("TOO_EARLY", `reward period ${period} closes at ${due}`, { period, due });
        const winner = flowWinner(state, period, home);
        state.rewardsPaid.add(key);
        // this aggregator's tally is done; other aggregators' sellers stay for their own reward
        const f = state.flow.get(period);
        if (f) {
          for (const agent of [...f.keys()]) if (state.agents.get(agent)!.home === home) f.delete(agent);
          if (f.size === 0) state.flow.delete(period);
        }
        if (!winner || state.params.rewardAmountMc === 0)
          return [{ type: "reward-none", period, aggregator: home }];
        const wallet = state.wallets.get(state.agents.get(winner.agent)!.wallets[0])!;
        mint(state, wallet, state.params.rewardAmountMc);
        return [
          {
            type: "reward-paid",
            period,
            aggregator: home,
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
