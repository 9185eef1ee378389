import { createRng } from "./rng.js";

/**
 * Seed 000, Fig. 5: how transaction confirmation time limits trading, and how credit lifts the limit.
 *
 * Model (our reading of §V-B, documented in docs/CREDIT.md): 50 pairs of nodes trade for 240 minutes;
 * each pair's trade frequency is drawn from {1, …, 5} per hour with equal probability and its trade
 * wishes arrive as a Poisson process at that rate; the two nodes of a pair take turns paying, every node
 * starts with 20 coins and a trade costs 20 coins. Without credit a node may spend only confirmed
 * coins, so after its first payment it waits for the confirmation of its partner's payment to it
 * before it can pay again; wishes queue in order. With credit the node pays at once with its credit
 * token whenever its confirmed coins fall short. The same arrivals are used in every scenario.
 */
export interface ConfirmationScenario {
  label: string;
  /** confirmation time of a payment, minutes */
  minutes: number;
}

export interface Fig5Options {
  seed: number;
  pairs: number;
  /** independent repetitions of the whole population, averaged, so that each frequency has a fair sample */
  repetitions: number;
  horizonMin: number;
  frequencies: number[];
  initialCoins: number;
  tradeCoins: number;
  scenarios: ConfirmationScenario[];
}

export function defaultScenarios(measuredCommitMs: number): ConfirmationScenario[] {
  return [
    { label: "traditional (60 min)", minutes: 60 },
    { label: "seed energy blockchain (10 min)", minutes: 10 },
    { label: `Gridlet BFT (${measuredCommitMs} ms)`, minutes: measuredCommitMs / 60_000 },
  ];
}

export const DEFAULT_FIG5: Fig5Options = {
  seed: 1,
  pairs: 50,
  repetitions: 20,
  horizonMin: 240,
  frequencies: [1, 2, 3, 4, 5],
  initialCoins: 20,
  tradeCoins: 20,
  scenarios: defaultScenarios(1000),
};

export interface PairRun {
  trades: number;
  /** Σ (confirmation time − wish time) over executed trades, minutes */
  waitSum: number;
  /** Σ (execution time − wish time), minutes: what the confirmation delay cost before trading */
  delaySum: number;
}

export interface Fig5Row {
  scenario: string;
  confirmationMin: number;
  credit: boolean;
  frequency: number | "all";
  /** pair runs in the group, over all repetitions */
  pairs: number;
  /** trades executed per pair per hour */
  tradesPerHour: number;
  /** mean time from wanting to trade to the trade's payment being confirmed, minutes */
  avgConfirmationWaitMin: number;
  /** mean time from wanting to trade to trading, minutes */
  avgDelayMin: number;
  /** Σ confirmation waits of a node's trades over the run, minutes (the seed's Fig. 5a "total" measure) */
  totalConfirmationMinPerNode: number;
  /** trade wishes per pair per hour, for comparison */
  wishesPerHour: number;
}

export interface Fig5Result {
  options: Fig5Options;
  rows: Fig5Row[];
}

/** One pair over the horizon: trade wish times (minutes) in, executed trades and waits out. */
export function simulatePair(
  wishes: readonly number[],
  o: Pick<Fig5Options, "horizonMin" | "initialCoins" | "tradeCoins">,
  confirmMin: number,
  credit: boolean,
): PairRun {
  const spent = [0, 0];
  const incoming: Array<Array<{ at: number; coins: number }>> = [[], []];
  const confirmedAt = (node: number, time: number) =>
    o.initialCoins - spent[node] + incoming[node].reduce((s, x) => s + (x.at <= time ? x.coins : 0), 0);
  const run: PairRun = { trades: 0, waitSum: 0, delaySum: 0 };
  let last = 0;
  for (const [k, wish] of wishes.entries()) {
    const payer = k % 2;
    let at = Math.max(wish, last);
    if (!credit && confirmedAt(payer, at) < o.tradeCoins) {
      // the earliest later moment at which an incoming payment confirms and covers the trade
      const times = incoming[payer].map((x) => x.at).filter((t) => t > at);
      times.sort((a, b) => a - b);
      const t = times.find((x) => confirmedAt(payer, x) >= o.tradeCoins);
      if (t === undefined) break;
      at = t;
    }
    if (at >= o.horizonMin) break;
    spent[payer] += o.tradeCoins;
    incoming[1 - payer].push({ at: at + confirmMin, coins: o.tradeCoins });
    run.trades += 1;
    run.waitSum += at + confirmMin - wish;
    run.delaySum += at - wish;
    last = at;
  }
  return run;
}

/** Poisson trade wishes at `perHour` over the horizon, in minutes. */
function drawWishes(rng: ReturnType<typeof createRng>, perHour: number, horizonMin: number): number[] {
  const out: number[] = [];
  let t = rng.exponential(perHour / 60);
  while (t < horizonMin) {
    out.push(t);
    t += rng.exponential(perHour / 60);
  }
  return out;
}

export function runFig5(options: Partial<Fig5Options> = {}): Fig5Result {
  const o: Fig5Options = { ...DEFAULT_FIG5, ...options };
  const rng = createRng(o.seed);
  const pairs = Array.from({ length: o.pairs * o.repetitions }, () => {
    const frequency = o.frequencies[rng.int(0, o.frequencies.length - 1)];
    return { frequency, wishes: drawWishes(rng, frequency, o.horizonMin) };
  });
  const hours = o.horizonMin / 60;
  const rows: Fig5Row[] = [];
  for (const sc of o.scenarios) {
    for (const credit of [false, true]) {
      const runs = pairs.map((p) => ({ p, r: simulatePair(p.wishes, o, sc.minutes, credit) }));
      for (const frequency of [...o.frequencies, "all" as const]) {
        const group = runs.filter((x) => frequency === "all" || x.p.frequency === frequency);
        const trades = group.reduce((s, x) => s + x.r.trades, 0);
        const wishes = group.reduce((s, x) => s + x.p.wishes.length, 0);
        const n = Math.max(group.length, 1);
        rows.push({
          scenario: sc.label,
          confirmationMin: sc.minutes,
          credit,
          frequency,
          pairs: group.length,
          tradesPerHour: trades / n / hours,
          avgConfirmationWaitMin: trades === 0 ? 0 : group.reduce((s, x) => s + x.r.waitSum, 0) / trades,
          avgDelayMin: trades === 0 ? 0 : group.reduce((s, x) => s + x.r.delaySum, 0) / trades,
          totalConfirmationMinPerNode: group.reduce((s, x) => s + x.r.waitSum, 0) / (2 * n),
          wishesPerHour: wishes / n / hours,
        });
      }
    }
  }
  return { options: o, rows };
}
