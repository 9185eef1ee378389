import { errorFamily, type FamilyError } from "../../protocol/errors.js";

export type LedgerServiceErrorCode =
  /** this aggregator is not a member of the consortium file, or its key differs */
  | "NOT_A_MEMBER"
  /** the genesis names this aggregator as a bank with another key than its identity key */
  | "BANK_KEY_MISMATCH"
  /** the ledger needs an embedded broker (peers subscribe to it); a peer's broker reached without TLS */
  | "BAD_CONFIG";

export const { Error: LedgerServiceError } = errorFamily<LedgerServiceErrorCode>("LedgerServiceError");
export type LedgerServiceError = FamilyError<LedgerServiceErrorCode>;
