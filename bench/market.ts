import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { type BookEntry, clearInterval } from "../aggregator/market/clearing.js";
import type { IntervalClearedEvent } from "../aggregator/state/events.js";
import type { Tx } from "../aggregator/state/handler.js";
import { createTradingCore } from "../aggregator/state/trading.js";
import { orderBody, txs } from "../aggregator/state/txs.js";

/**
 * Market benchmark: orders per second into the book (full transaction path: schema, eligibility,
 * freezing) and the clearing of 100 000 orders in one interval, against the 1 s target.
 */

const AUTH = "agg-bench";
const ORDERS = 100_000;
const TARGET_MS = 1000;
const IV = 100;
const IMS = 900_000;

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

function collectGarbage(): void {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
}

interface Round {
  setupMs: number;
  bookMs: number;
  clearMs: number;
  /** process CPU time during the clearing (GC threads included): less sensitive to other load than wall time */
  clearCpuMs: number;
  hashMs: number;
  summary: IntervalClearedEvent;
}

/** One round: a fresh ledger with 100 000 funded nodes, 100 000 orders into one interval, clearing. */
function round(seed: number): Round {
  const core = createTradingCore({ authorities: [AUTH], config: { maxIntervalsAhead: 10_000 } });
  const rand = rng(seed);
  let h = 0;
  const apply = (tx: Tx, time: number) => {
    const r = core.apply(tx, { time, height: ++h, proposer: AUTH });
    if (!r.ok) throw new Error(`${tx.type}: ${r.code} ${r.message}`);
  };
  const setupStart = performance.now();
  const t0 = (IV - 2) * IMS;
  for (let i = 0; i < ORDERS; i++) {
    const a = `n${i}`;
    apply(txs.registerWallet(`${a}:r`, a, `w-${a}-0000`), t0);
    apply(txs.allocate(`${a}:a`, AUTH, `w-${a}-0000`), t0);
    if (i % 2 === 1) apply(txs.meterSummary(`${a}:m`, a, IV - 3, 0, 5000), t0);
  }
  const orders: Tx[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const buy = i % 2 === 0;
    const wh = 100 + Math.floor(rand() * 2900);
    const price = buy ? 150 + Math.floor(rand() * 200) : 100 + Math.floor(rand() * 200);
    orders.push(
      txs.placeOrder(`o${i}`, `n${i}`, orderBody(`w-n${i}-0000`, buy ? "buy" : "sell", IV, wh, price)),
    );
  }
  const setupMs = performance.now() - setupStart;

  // collect the set-up garbage first, so each figure is the step's own cost (including its own GC)
  collectGarbage();
  const inStart = performance.now();
  for (const tx of orders) apply(tx, t0 + 1);
  const bookMs = performance.now() - inStart;

  collectGarbage();
  const cpuStart = process.cpuUsage();
  const clearStart = performance.now();
  const r = core.apply(txs.clear("clear", AUTH, IV), { time: IV * IMS, height: ++h, proposer: AUTH });
  const clearMs = performance.now() - clearStart;
  const cpu = process.cpuUsage(cpuStart);
  if (!r.ok) throw new Error(`clear: ${r.code}`);

  const hashStart = performance.now();
  core.stateHash();
  const hashMs = performance.now() - hashStart;
  return {
    setupMs,
    bookMs,
    clearMs,
    clearCpuMs: (cpu.user + cpu.system) / 1000,
    hashMs,
    summary: r.events.find((e) => e.type === "interval-cleared")!,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(): Promise<Record<string, unknown>> {
  const rounds: Round[] = [];
  for (let k = 0; k < 3; k++) {
    rounds.push(round(42 + k));
    collectGarbage();
  }
  const rand = rng(7);
  const clearMs = median(rounds.map((x) => x.clearMs));
  const bookMs = median(rounds.map((x) => x.bookMs));
  const summary = rounds[0].summary;
  const hashMs = median(rounds.map((x) => x.hashMs));
  // the auction alone, on fresh copies of a book of the same size
  const pure: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const bids: BookEntry[] = [];
    const asks: BookEntry[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const e = {
        ref: i,
        priceMcPerKwh: 100 + Math.floor(rand() * 250),
        energyWh: 100 + Math.floor(rand() * 2900),
        active: Math.floor(rand() * 30e6),
        reputation: Math.floor(rand() * 30e6),
        seq: i,
      };
      (i % 2 === 0 ? bids : asks).push(e);
    }
    const s = performance.now();
    clearInterval(bids, asks, "uniform");
    pure.push(performance.now() - s);
  }
  pure.sort((a, b) => a - b);
  const pureMedian = pure[2];

  return {
    benchmark: "market",
    orders: ORDERS,
    rounds: rounds.length,
    ordersPerSecond: Math.round(ORDERS / (bookMs / 1000)),
    bookMsMedian: Math.round(bookMs),
    clearTxMsMedian: Math.round(clearMs),
    clearTxMsAll: rounds.map((x) => Math.round(x.clearMs)),
    clearTxCpuMsMedian: Math.round(median(rounds.map((x) => x.clearCpuMs))),
    clearTxRatioToTarget: Number((clearMs / TARGET_MS).toFixed(3)),
    pureClearingMedianMs: Math.round(pureMedian),
    pureClearingRatioToTarget: Number((pureMedian / TARGET_MS).toFixed(3)),
    targetMs: TARGET_MS,
    trades: summary.trades,
    volumeWh: summary.volumeWh,
    clearingPriceMcPerKwh: summary.clearingPriceMcPerKwh,
    stateHashMsMedian: Math.round(hashMs),
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await run())}\n`);
}
