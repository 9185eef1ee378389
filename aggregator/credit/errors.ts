import {
  type CreditTokenError,
  errorFamily,
  type FamilyError,
  isCreditTokenError,
} from "../../protocol/errors.js";

/**
 * Every reason the credit bank refuses a request or rejects a credit transaction. A refusal names the
 * one condition that failed, so that a borrower (and the logs) can tell "no regular income" from
 * "blacklisted" without reading prose.
 */
export type CreditErrorCode =
  | "MALFORMED"
  | "BAD_PARAMETERS"
  | "UNAUTHORIZED"
  | "UNKNOWN_BANK"
  | "NO_WEALTH"
  | "NO_REGULAR_INCOME"
  | "NEGATIVE_CREDIT"
  | "BLACKLISTED"
  | "ACTIVE_LOAN"
  | "NO_LOAN_OFFERED"
  | "BANK_FUNDS"
  | "UNKNOWN_LOAN"
  | "LOAN_NOT_OFFERED"
  | "LOAN_NOT_ACTIVE"
  | "BAD_TOKEN_SIGNATURE"
  | "BAD_PAYMENT_SIGNATURE"
  | "WALLET_MISMATCH"
  | "WALLET_TAKEN"
  | "TOKEN_EXPIRED"
  | "OVERSPEND"
  | "DUPLICATE_PAYMENT"
  | "NOT_WALLET_OWNER"
  | "INSUFFICIENT_FUNDS";

const bank = errorFamily<CreditErrorCode>("CreditError");
export const CreditError = bank.Error;
export type CreditError = FamilyError<CreditErrorCode>;

/** True for a bank refusal and for a failed token or payment check (protocol/credit-token.ts). */
export function isCreditError(e: unknown, code?: CreditErrorCode): e is CreditError | CreditTokenError {
  return bank.is(e, code) || (isCreditTokenError(e) && (code === undefined || e.code === code));
}
