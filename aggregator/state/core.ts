import { z } from "#zod";
import { sha256Hex } from "../../protocol/hash.js";
import { hashCanonical } from "./canonical-hash.js";
import { resolveTradingParams, type TradingParams } from "./config.js";
import { isTradingError, reject, type TradingErrorCode } from "./errors.js";
import type { ParsedTx, TradingModule, Tx, TxHandler } from "./handler.js";
import type { ApplyContext, ReplicatedStateMachine } from "./replicated.js";
import { restoreSnapshot, type StateSnapshot, takeSnapshot } from "./snapshot.js";
import type { TradingEvent, TradingState } from "./types.js";

/** `C`: the refusal codes the plugged-in modules add (TradingModule<C>), none for the built-in ones. */
export type TradingApplyResult<C extends string = never> =
  | { ok: true; events: TradingEvent[] }
  | { ok: false; code: TradingErrorCode | C; message: string };

const txShape = z
  .object({
    id: z.string().min(1).max(200),
    type: z.string().min(1).max(64),
    sender: z.string().min(1).max(200),
    body: z.unknown(),
  })
  .strict();

export interface Genesis {
  /** the `trading` configuration section (validated by tradingConfigSchema) */
  config?: unknown;
  /** ids of the aggregators allowed to send system transactions */
  authorities: string[];
}

export function emptyState(params: TradingParams, authorities: string[]): TradingState {
  return {
    params,
    authorities: [...authorities],
    supply: 0,
    seq: 0,
    digest: sha256Hex("gridlet/trading/genesis"),
    lastClearingPriceMcPerKwh: null,
    agents: new Map(),
    wallets: new Map(),
    orders: new Map(),
    ordersByInterval: new Map(),
    trades: new Map(),
    tradesByInterval: new Map(),
    intervals: new Map(),
    meter: new Map(),
    flow: new Map(),
    rewardsPaid: new Set(),
    seenTx: new Set(),
    blacklist: new Set(),
    ext: new Map(),
  };
}

/**
 * The aggregator's replicated state machine for trading. It dispatches each ordered transaction to the
 * handler registered for its type; the built-in modules (accounts, market, contract, rewards) and any
 * plug-in (the credit bank) register the same way.
 */
export class TradingCore<C extends string = never> implements ReplicatedStateMachine<Tx> {
  private readonly handlers = new Map<string, { handler: TxHandler; module: TradingModule<C> }>();
  private readonly modules = new Map<string, TradingModule<C>>();
  state: TradingState;

  constructor(state: TradingState, modules: readonly TradingModule<C>[]) {
    this.state = state;
    for (const m of modules) this.register(m);
  }

  /** A fresh ledger from genesis, with the built-in modules plus `extra` (e.g. the credit bank). */
  static create<C extends string = never>(
    genesis: Genesis,
    modules: readonly TradingModule<C>[],
  ): TradingCore<C> {
    const core = new TradingCore<C>(
      emptyState(resolveTradingParams(genesis.config ?? {}), genesis.authorities),
      modules,
    );
    for (const m of modules) if (m.init) core.state.ext.set(m.name, m.init());
    return core;
  }

  static fromSnapshot<C extends string = never>(
    snap: StateSnapshot,
    modules: readonly TradingModule<C>[],
  ): TradingCore<C> {
    const byName = new Map(modules.map((m) => [m.name, m]));
    return new TradingCore<C>(restoreSnapshot(snap, byName), modules);
  }

  /** Adds a module's transaction types; a type registered twice is a programming error. */
  register(m: TradingModule<C>): void {
    if (this.modules.has(m.name)) throw new Error(`trading module ${m.name} registered twice`);
    for (const type of Object.keys(m.handlers)) {
      if (this.handlers.has(type)) throw new Error(`transaction type ${type} registered twice`);
    }
    this.modules.set(m.name, m);
    for (const [type, handler] of Object.entries(m.handlers)) this.handlers.set(type, { handler, module: m });
  }

  txTypes(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** Who may send a transaction type and the schema its body must pass; undefined for an unknown type. */
  txRule(type: string): { origin: TxHandler["origin"]; schema: z.ZodType } | undefined {
    const h = this.handlers.get(type)?.handler;
    return h === undefined ? undefined : { origin: h.origin, schema: h.schema };
  }

  apply(tx: Tx, ctx: ApplyContext): TradingApplyResult<C> {
    let module: TradingModule<C> | undefined;
    try {
      const parsed = this.check(tx);
      const { handler, module: m } = this.handlers.get(parsed.type)!;
      module = m;
      const events = handler.apply(this.state, parsed, ctx);
      this.state.seenTx.add(parsed.id);
      this.state.seq += 1;
      this.state.digest = sha256Hex(`${this.state.digest}\n${parsed.id}`);
      return { ok: true, events };
    } catch (e) {
      if (isTradingError(e)) return { ok: false, code: e.code, message: e.message };
      const own = module?.refusal?.(e);
      if (own !== undefined) return { ok: false, code: own.code, message: own.message };
      throw e;
    }
  }

  private check(tx: Tx): ParsedTx<unknown> {
    const shape = txShape.safeParse(tx);
    if (!shape.success) reject("MALFORMED", `transaction: ${issueText(shape.error)}`);
    const t = shape.data;
    const handler = this.handlers.get(t.type)?.handler;
    if (!handler) reject("UNKNOWN_TX_TYPE", `no handler for transaction type ${t.type}`, { type: t.type });
    if (this.state.seenTx.has(t.id))
      reject("REPLAY", `transaction ${t.id} was already applied`, { id: t.id });
    if (handler.origin === "authority" && !this.state.authorities.includes(t.sender))
      reject("UNAUTHORIZED", `${t.type} may only be sent by an aggregator, not ${t.sender}`, {
        sender: t.sender,
      });
    const body = handler.schema.safeParse(t.body);
    if (!body.success) reject("MALFORMED", `${t.type} body: ${issueText(body.error)}`);
    return { id: t.id, type: t.type, sender: t.sender, body: body.data };
  }

  stateHash(): string {
    return hashCanonical(this.snapshot());
  }

  snapshot(): StateSnapshot {
    return takeSnapshot(this.state, this.modules);
  }
}

function issueText(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return "invalid";
  const path = i.path.length ? i.path.map(String).join(".") : "(root)";
  return `${path}: ${i.message}`;
}
