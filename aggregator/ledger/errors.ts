import { GridletError } from "../../protocol/errors.js";

/** Codes of the ledger: block structure, hash chain, certificates, the store, re-execution. */
export type LedgerErrorCode =
  | "MALFORMED_BLOCK"
  | "BAD_MERKLE_ROOT"
  | "BAD_CHAIN"
  | "BAD_PROPOSER_SIGNATURE"
  | "BAD_CERTIFICATE"
  | "WRONG_LEADER"
  | "UNKNOWN_SIGNER"
  | "GAP"
  | "STATE_MISMATCH"
  | "STORE"
  | "BAD_EXPORT";

export class LedgerError extends GridletError<LedgerErrorCode> {}

export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError {
  return e instanceof LedgerError && (code === undefined || e.code === code);
}
