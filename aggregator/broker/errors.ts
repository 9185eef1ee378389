import { errorFamily, type FamilyError } from "../../protocol/errors.js";

/**
 * The embedded broker cannot start: `ADDRESS_IN_USE` (the port is taken, a configuration problem:
 * exit 2) or `LISTEN_FAILED` (anything else the operating system refused).
 */
export type BrokerErrorCode = "ADDRESS_IN_USE" | "LISTEN_FAILED";
export const { Error: BrokerError } = errorFamily<BrokerErrorCode>("BrokerError");
export type BrokerError = FamilyError<BrokerErrorCode>;

/**
 * A login refused for a reason of its own (the envelope checks give ProtocolError codes: REPLAY,
 * STALE, BAD_SIGNATURE, ...): a token for another aggregator, or a client id of another identity.
 */
export type LoginErrorCode = "WRONG_AUDIENCE" | "CLIENT_ID_NOT_OWNED";
export const { Error: LoginError } = errorFamily<LoginErrorCode>("LoginError");
export type LoginError = FamilyError<LoginErrorCode>;
