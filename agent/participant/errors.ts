import { GridletError } from "../../protocol/errors.js";

export type ParticipantErrorCode =
  | "BAD_DOWNLINK"
  | "DECRYPT_FAILED"
  | "NO_WALLET"
  | "TRADING_CONFIG"
  | "STATUS_UNAVAILABLE";

/** The agent's trading behaviour: malformed aggregator messages, missing wallets, bad trading config. */
export class ParticipantError extends GridletError<ParticipantErrorCode> {}

export function isParticipantError(e: unknown, code?: ParticipantErrorCode): e is ParticipantError {
  return e instanceof ParticipantError && (code === undefined || e.code === code);
}
