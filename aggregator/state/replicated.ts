/**
 * The seam between consensus and the aggregator's replicated state machine. Consensus orders
 * transactions into committed blocks; every aggregator (and an auditor) applies them in the global
 * order and must reach the same state hash. Implementations are pure and deterministic: time comes from
 * the block, never from a clock.
 */
export interface ReplicatedStateMachine<Tx = unknown> {
  /**
   * Applies one ordered transaction. A rejected transaction is recorded as rejected with a typed code
   * and leaves the state unchanged; it never throws for bad input.
   */
  apply(tx: Tx, ctx: ApplyContext): ApplyResult;
  /** Hex SHA-256 over the canonical encoding of the whole state. */
  stateHash(): string;
  /** A canonical snapshot for checkpoints and state transfer, and its inverse. */
  snapshot(): unknown;
}

export interface ApplyContext {
  /** block timestamp, ms since epoch: the only clock the state machine sees */
  time: number;
  /** height (global position) of the block carrying the transaction */
  height: number;
  /** id of the aggregator that proposed the block */
  proposer: string;
}

/**
 * What applying one transaction gave: its events, or a refusal with a code. Machines narrow both: the
 * aggregators' ledger returns `LedgerApplyResult` (aggregator/node/machine.ts).
 */
export type ApplyResult<Code extends string = string, Event = unknown> =
  | { ok: true; events?: Event[] }
  | { ok: false; code: Code; message: string };
