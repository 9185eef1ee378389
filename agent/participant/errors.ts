import { errorFamily, type FamilyError } from "../../protocol/errors.js";

export type ParticipantErrorCode =
  | "BAD_DOWNLINK"
  | "DECRYPT_FAILED"
  | "NO_WALLET"
  | "TRADING_CONFIG"
  | "STATUS_UNAVAILABLE";

/** The agent's trading behaviour: malformed aggregator messages, missing wallets, bad trading config. */
export const { Error: ParticipantError, is: isParticipantError } =
  errorFamily<ParticipantErrorCode>("ParticipantError");
export type ParticipantError = FamilyError<ParticipantErrorCode>;
