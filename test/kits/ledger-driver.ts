import type { TradingApplyResult, TradingCore } from "../../aggregator/state/core.js";
import type { LedgerEvent, TradingEvent } from "../../aggregator/state/events.js";
import type { Tx } from "../../aggregator/state/handler.js";
import { orderBody, txs } from "../../aggregator/state/txs.js";

/**
 * Drives a TradingCore through whole trading days with readable calls: used by tests, benchmarks and
 * the demo. It numbers transactions and blocks itself; the clock is whatever `time` is set to.
 */
export class LedgerDriver<C extends string = never> {
  readonly core: TradingCore<C>;
  readonly authority: string;
  time = 0;
  height = 0;
  /** proposer of the next blocks: the aggregator an agent registers through becomes its home */
  proposer: string;
  private n = 0;
  /** every transaction applied so far, with its context and result, in order */
  readonly log: { tx: Tx; time: number; height: number; result: TradingApplyResult<C> }[] = [];

  constructor(core: TradingCore<C>, authority: string) {
    this.core = core;
    this.authority = authority;
    this.proposer = authority;
  }

  get params() {
    return this.core.state.params;
  }

  nextId(prefix = "tx"): string {
    this.n += 1;
    return `${prefix}-${this.n}`;
  }

  apply(tx: Tx): TradingApplyResult<C> {
    this.height += 1;
    const result = this.core.apply(tx, { time: this.time, height: this.height, proposer: this.proposer });
    this.log.push({ tx, time: this.time, height: this.height, result });
    return result;
  }

  /** Applies and insists on success, returning the events. */
  ok(tx: Tx): TradingEvent[] {
    const r = this.apply(tx);
    if (!r.ok) throw new Error(`${tx.type} rejected: ${r.code} ${r.message}`);
    return r.events;
  }

  /** Registers an agent with one wallet and gives it the initial allocation. */
  agent(agent: string, wallet = `w-${agent}-0001`): string {
    this.ok(txs.registerWallet(this.nextId(), agent, wallet));
    this.ok(txs.allocate(this.nextId(), this.authority, wallet));
    return wallet;
  }

  startOf(interval: number): number {
    return interval * this.params.intervalMs;
  }

  /** Sets the clock to just before the interval's gate closes. */
  before(interval: number): void {
    this.time = this.startOf(interval) - 1;
  }

  meter(agent: string, interval: number, importWh: number, exportWh: number): TradingApplyResult<C> {
    return this.apply(txs.meterSummary(this.nextId(), agent, interval, importWh, exportWh));
  }

  order(agent: string, wallet: string, side: "buy" | "sell", interval: number, wh: number, price: number) {
    return this.apply(txs.placeOrder(this.nextId(), agent, orderBody(wallet, side, interval, wh, price)));
  }

  clear(interval: number): TradingEvent[] {
    this.time = Math.max(this.time, this.startOf(interval));
    return this.ok(txs.clear(this.nextId(), this.authority, interval));
  }

  settle(interval: number): TradingEvent[] {
    this.time = Math.max(this.time, this.startOf(interval + 1) + this.params.confirmWindowMs);
    return this.ok(txs.settle(this.nextId(), this.authority, interval));
  }

  balance(wallet: string): { balance: number; frozen: number } {
    const w = this.core.state.wallets.get(wallet)!;
    return { balance: w.balance, frozen: w.frozen };
  }
}

/** The first event of `type` among `events`, narrowed to its variant; throws when there is none. */
export function eventOf<T extends LedgerEvent["type"]>(
  events: readonly LedgerEvent[],
  type: T,
): Extract<LedgerEvent, { type: T }> {
  const e = events.find((x): x is Extract<LedgerEvent, { type: T }> => x.type === type);
  if (e === undefined) throw new Error(`no ${type} event among [${events.map((x) => x.type).join(", ")}]`);
  return e;
}
