import { getOrInsert } from "./arith.js";
import type { TradingParams } from "./config.js";
import type { TradingModule } from "./handler.js";
import type { Agent, IntervalState, MeterSummary, Order, Trade, TradingState, Wallet } from "./types.js";

/**
 * The canonical snapshot: plain JSON, every collection an array sorted by key, so that the RFC 8785
 * encoding (and thus the state hash) depends only on the state, never on insertion order.
 */
export interface StateSnapshot {
  version: 1;
  params: TradingParams;
  authorities: string[];
  supply: number;
  seq: number;
  digest: string;
  lastClearingPriceMcPerKwh: number | null;
  agents: Agent[];
  wallets: Wallet[];
  orders: Order[];
  trades: Trade[];
  intervals: [number, IntervalState][];
  meter: [string, [number, MeterSummary][]][];
  flow: [number, [string, number][]][];
  rewardsPaid: string[];
  seenTx: string[];
  blacklist: string[];
  ext: [string, unknown][];
}

const byStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byNum = (a: number, b: number): number => a - b;

function sortedValues<T>(m: Map<string, T>): T[] {
  return [...m.keys()].sort(byStr).map((k) => m.get(k)!);
}

export function takeSnapshot(
  state: TradingState,
  modules: ReadonlyMap<string, TradingModule<string>>,
): StateSnapshot {
  return {
    version: 1,
    params: state.params,
    authorities: [...state.authorities].sort(byStr),
    supply: state.supply,
    seq: state.seq,
    digest: state.digest,
    lastClearingPriceMcPerKwh: state.lastClearingPriceMcPerKwh,
    agents: sortedValues(state.agents).map((a) => ({
      ...a,
      rep: { ...a.rep },
      wallets: [...a.wallets],
      openOrders: [...a.openOrders],
      income: a.income.map((x) => ({ ...x })),
    })),
    wallets: sortedValues(state.wallets).map((w) => ({ ...w })),
    orders: sortedValues(state.orders).map((o) => ({ ...o })),
    trades: sortedValues(state.trades).map((t) => ({ ...t, dispute: t.dispute ? { ...t.dispute } : null })),
    intervals: [...state.intervals.keys()].sort(byNum).map((k) => [k, { ...state.intervals.get(k)! }]),
    meter: [...state.meter.keys()].sort(byStr).map((a) => {
      const m = state.meter.get(a)!;
      return [a, [...m.keys()].sort(byNum).map((i) => [i, { ...m.get(i)! }] as [number, MeterSummary])];
    }),
    flow: [...state.flow.keys()].sort(byNum).map((p) => {
      const f = state.flow.get(p)!;
      return [p, [...f.keys()].sort(byStr).map((a) => [a, f.get(a)!] as [string, number])];
    }),
    rewardsPaid: [...state.rewardsPaid].sort(byStr),
    seenTx: [...state.seenTx].sort(byStr),
    blacklist: [...state.blacklist].sort(byStr),
    ext: [...state.ext.keys()].sort(byStr).map((name) => {
      const mod = modules.get(name);
      const v = state.ext.get(name);
      return [name, mod?.snapshot ? mod.snapshot(v) : v];
    }),
  };
}

export function restoreSnapshot(
  s: StateSnapshot,
  modules: ReadonlyMap<string, TradingModule<string>>,
): TradingState {
  if (s.version !== 1) throw new Error(`unsupported trading snapshot version ${String(s.version)}`);
  const ordersByInterval = new Map<number, Set<string>>();
  for (const o of s.orders) {
    getOrInsert(ordersByInterval, o.interval, () => new Set<string>()).add(o.id);
  }
  const tradesByInterval = new Map<number, Set<string>>();
  for (const t of s.trades) {
    // trade ids sort in creation order (zero-padded), which settlement relies on
    getOrInsert(tradesByInterval, t.interval, () => new Set<string>()).add(t.id);
  }
  return {
    params: s.params,
    authorities: [...s.authorities],
    supply: s.supply,
    seq: s.seq,
    digest: s.digest,
    lastClearingPriceMcPerKwh: s.lastClearingPriceMcPerKwh,
    agents: new Map(
      s.agents.map((a) => [
        a.id,
        {
          ...a,
          rep: { ...a.rep },
          wallets: [...a.wallets],
          openOrders: [...a.openOrders],
          income: a.income.map((x) => ({ ...x })),
        },
      ]),
    ),
    wallets: new Map(s.wallets.map((w) => [w.address, { ...w }])),
    orders: new Map(s.orders.map((o) => [o.id, { ...o }])),
    ordersByInterval,
    trades: new Map(s.trades.map((t) => [t.id, { ...t, dispute: t.dispute ? { ...t.dispute } : null }])),
    tradesByInterval,
    intervals: new Map(s.intervals.map(([k, v]) => [k, { ...v }])),
    meter: new Map(s.meter.map(([a, list]) => [a, new Map(list.map(([i, m]) => [i, { ...m }]))])),
    flow: new Map(s.flow.map(([p, list]) => [p, new Map(list)])),
    rewardsPaid: new Set(s.rewardsPaid),
    seenTx: new Set(s.seenTx),
    blacklist: new Set(s.blacklist),
    ext: new Map(
      s.ext.map(([name, v]) => {
        const mod = modules.get(name);
        return [name, mod?.restore ? mod.restore(v) : v];
      }),
    ),
  };
}
