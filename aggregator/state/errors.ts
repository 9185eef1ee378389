import { errorFamily, type FamilyError } from "../../protocol/errors.js";

/**
 * Every reason the trading state machine rejects a transaction. A rejected transaction leaves the
 * state unchanged and is recorded in the log with its code; callers branch on the code, never on text.
 */
export const TRADING_ERROR_CODES = [
  "MALFORMED",
  "UNKNOWN_TX_TYPE",
  "REPLAY",
  "UNAUTHORIZED",
  "UNKNOWN_AGENT",
  "UNKNOWN_WALLET",
  "NOT_WALLET_OWNER",
  "WALLET_TAKEN",
  "ALREADY_ALLOCATED",
  "INSUFFICIENT_FUNDS",
  "BLACKLISTED",
  "INTERVAL_CLOSED",
  "INTERVAL_TOO_FAR",
  "TOO_EARLY",
  "PRICE_OUT_OF_RANGE",
  "ENERGY_OUT_OF_RANGE",
  "EXPORT_NOT_PLAUSIBLE",
  "SELF_TRADE",
  "DEPOSIT_NOT_AUTHORISED",
  "UNKNOWN_ORDER",
  "UNKNOWN_TRADE",
  "TRADE_NOT_OPEN",
  "NOT_TRADE_PARTY",
  "ALREADY_CONFIRMED",
  "NOT_DISPUTED",
  "ALREADY_CLEARED",
  "NOT_CLEARED",
  "ALREADY_SETTLED",
  "DUPLICATE_METER_SUMMARY",
  "REWARD_ALREADY_PAID",
] as const;

export type TradingErrorCode = (typeof TRADING_ERROR_CODES)[number];

export const { Error: TradingError, is: isTradingError } = errorFamily<TradingErrorCode>("TradingError");
export type TradingError = FamilyError<TradingErrorCode>;

/** Throws a rejection; handlers call it only before they change anything. */
export function reject(
  code: TradingErrorCode,
  message: string,
  context: Record<string, unknown> = {},
): never {
  throw new TradingError(code, message, context);
}
