import { canonicalJson } from "../../protocol/canonical.js";
import { sha256Hex } from "../../protocol/hash.js";
import type { Genesis, TradingApplyResult, TradingCore } from "./core.js";
import type { TradingModule, Tx } from "./handler.js";
import type { ApplyContext } from "./replicated.js";
import { dueSystemTxs } from "./schedule.js";
import type { StateSnapshot } from "./snapshot.js";
import type { LogEntry, TradingStore } from "./store.js";
import { createTradingCore, restoreTradingCore } from "./trading.js";

/** A block of ordered transactions, all applied with the block's context. */
export interface Block {
  height: number;
  time: number;
  proposer: string;
  txs: Tx[];
}

export interface SequencerOptions {
  /** this aggregator's id: the proposer of every block it orders */
  proposer: string;
  store?: TradingStore;
  /** write a state snapshot every this many log entries (0: never) */
  snapshotEvery?: number;
}

/**
 * Single-node ordering until consensus lands: every submitted transaction becomes a one-transaction
 * block with the caller's clock as block time. Consensus replaces this class by calling `applyBlock`
 * with committed blocks; nothing in the state machine changes.
 */
export class Sequencer {
  readonly core: TradingCore;
  private readonly opts: SequencerOptions;
  private seq: number;
  private height: number;
  private sinceSnapshot = 0;
  /** rejections by code since start, for metrics and logs */
  readonly rejections = new Map<string, number>();

  constructor(
    core: TradingCore,
    opts: SequencerOptions,
    position: { seq: number; height: number } = { seq: 0, height: 0 },
  ) {
    this.core = core;
    this.opts = opts;
    this.seq = position.seq;
    this.height = position.height;
  }

  get lastSeq(): number {
    return this.seq;
  }

  get lastHeight(): number {
    return this.height;
  }

  submit(tx: Tx, timeMs: number): TradingApplyResult {
    return this.applyBlock({
      height: this.height + 1,
      time: timeMs,
      proposer: this.opts.proposer,
      txs: [tx],
    })[0];
  }

  /** Submits the clearings, settlements and rewards due at `timeMs`. */
  tick(timeMs: number): TradingApplyResult[] {
    const txs = dueSystemTxs(this.core.state, timeMs, this.opts.proposer);
    if (txs.length === 0) return [];
    return this.applyBlock({ height: this.height + 1, time: timeMs, proposer: this.opts.proposer, txs });
  }

  /**
   * Applies a block and appends it to the log in one SQLite transaction. If the append fails the
   * in-memory state is ahead of the log, so the error is fatal: the process must exit and recover.
   */
  applyBlock(block: Block): TradingApplyResult[] {
    if (block.height <= this.height)
      throw new Error(`block height ${block.height} is not after ${this.height}`);
    const ctx: ApplyContext = { time: block.time, height: block.height, proposer: block.proposer };
    const results: TradingApplyResult[] = [];
    const entries: LogEntry[] = [];
    for (const tx of block.txs) {
      const r = this.core.apply(tx, ctx);
      results.push(r);
      if (!r.ok) this.rejections.set(r.code, (this.rejections.get(r.code) ?? 0) + 1);
      entries.push({ seq: this.seq + entries.length + 1, tx, ctx, code: r.ok ? null : r.code });
    }
    this.opts.store?.append(entries);
    this.seq += entries.length;
    this.height = block.height;
    this.sinceSnapshot += entries.length;
    const every = this.opts.snapshotEvery ?? 0;
    if (this.opts.store && every > 0 && this.sinceSnapshot >= every) this.writeSnapshot();
    return results;
  }

  writeSnapshot(): void {
    if (!this.opts.store) return;
    const text = canonicalJson(this.core.snapshot());
    this.opts.store.saveSnapshot({ seq: this.seq, hash: sha256Hex(text), state: text });
    this.sinceSnapshot = 0;
  }
}

export class RecoveryError extends Error {}

/**
 * Rebuilds the state from the store: the newest snapshot, then the log after it. Each replayed entry
 * must give the result recorded when it was first applied, otherwise the code or the log has changed
 * and the ledger cannot be trusted.
 */
export function recoverSequencer(
  store: TradingStore,
  genesis: Genesis,
  opts: Omit<SequencerOptions, "store">,
  extra: readonly TradingModule[] = [],
): Sequencer {
  const genesisText = canonicalJson(genesis);
  const stored = store.getMeta("genesis");
  if (stored === null) store.setMeta("genesis", genesisText);
  else if (stored !== genesisText) throw new RecoveryError("the store was created with a different genesis");

  const snap = store.latestSnapshot();
  let core: TradingCore;
  let seq = 0;
  let height = 0;
  if (snap) {
    if (sha256Hex(snap.state) !== snap.hash)
      throw new RecoveryError(`snapshot at ${snap.seq} does not match its hash`);
    core = restoreTradingCore(JSON.parse(snap.state) as StateSnapshot, extra);
    seq = snap.seq;
  } else {
    core = createTradingCore(genesis, extra);
  }
  for (const e of store.entries(seq)) {
    if (e.seq !== seq + 1) throw new RecoveryError(`log gap: expected ${seq + 1}, found ${e.seq}`);
    const r = core.apply(e.tx, e.ctx);
    const code = r.ok ? null : r.code;
    if (code !== e.code)
      throw new RecoveryError(`entry ${e.seq} replayed as ${code ?? "ok"}, logged ${e.code ?? "ok"}`);
    seq = e.seq;
    height = e.ctx.height;
  }
  if (snap && height === 0) height = lastHeight(store, snap.seq);
  return new Sequencer(core, { ...opts, store }, { seq, height });
}

function lastHeight(store: TradingStore, seq: number): number {
  let h = 0;
  for (const e of store.entries(Math.max(0, seq - 1))) {
    h = e.ctx.height;
    break;
  }
  return h;
}
