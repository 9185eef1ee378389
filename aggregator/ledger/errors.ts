import { errorFamily, type FamilyError } from "../../protocol/errors.js";

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
  | "BAD_EXPORT"
  /** the readings export: a reading not signed by a registered agent */
  | "BAD_READING"
  /** a meter summary in the ledger that the readings export does not prove */
  | "SUMMARY_MISMATCH";

export const { Error: LedgerError, is: isLedgerError } = errorFamily<LedgerErrorCode>("LedgerError");
export type LedgerError = FamilyError<LedgerErrorCode>;
