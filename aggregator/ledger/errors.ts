import { GridletError } from "../../protocol/errors.js";

/** Codes of the ledger: block structure, hash chain, certificates, the store, re-execution. */
export type LedgerErrorCode =
  | "MALFORMED_BLOCK"
  | "BAD_MERKLE_ROOT"
  | "BAD_CHAIN"
  | "BAD_PROPOSER_SIGNATURE"
  | "BAD_CERTIFICATE"
  | "UNKNOWN_SIGNER"
  | "GAP"
  | "STATE_MISMATCH"
  | "STORE";

export class LedgerError extends GridletError<LedgerErrorCode> {}

export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError {
  return e instanceof LedgerError && (code === undefined || e.code === code);
}
