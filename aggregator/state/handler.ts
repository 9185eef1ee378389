import type { z } from "#zod";
import type { ApplyContext } from "./replicated.js";
import type { TradingEvent, TradingState } from "./types.js";

/** A transaction as ordered by the sequencer or consensus. `sender` is the authenticated signer. */
export interface Tx {
  /** globally unique: a repeated id is rejected as REPLAY */
  id: string;
  type: string;
  sender: string;
  body: unknown;
}

export interface ParsedTx<B> {
  id: string;
  type: string;
  sender: string;
  body: B;
}

/**
 * One transaction type. `apply` must validate everything (rejecting with `reject(...)`) before its first
 * mutation, because a rejected transaction must leave the state exactly as it was.
 */
export interface TxHandler {
  /** "agent": any signed agent; "authority": only an aggregator listed in the state's authorities */
  origin: "agent" | "authority";
  schema: z.ZodType;
  apply(state: TradingState, tx: ParsedTx<unknown>, ctx: ApplyContext): TradingEvent[];
}

export function defineHandler<S extends z.ZodType>(h: {
  origin: "agent" | "authority";
  schema: S;
  apply(state: TradingState, tx: ParsedTx<z.infer<S>>, ctx: ApplyContext): TradingEvent[];
}): TxHandler {
  return h as TxHandler;
}

/**
 * A plug-in that adds transaction types and (optionally) its own state, kept in `state.ext[name]` and
 * covered by the snapshot and state hash. The credit bank plugs in this way. `C` are the refusal codes
 * of its own that its handlers may return besides the trading core's (the credit bank's CreditErrorCode).
 */
export interface TradingModule<C extends string = never> {
  name: string;
  handlers: Record<string, TxHandler>;
  /**
   * The module's own refusal in what one of its handlers threw (checked before its first mutation, as
   * with `reject`), or undefined: anything else thrown propagates as a bug. A handler may also `reject`
   * with a trading code.
   */
  refusal?(e: unknown): { code: C; message: string } | undefined;
  /** initial module state for a fresh ledger */
  init?(): unknown;
  /** JSON-able canonical form of the module state (sorted, no Maps) */
  snapshot?(ext: unknown): unknown;
  /** inverse of snapshot */
  restore?(snap: unknown): unknown;
}
