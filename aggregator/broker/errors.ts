import { GridletError } from "../../protocol/errors.js";

/**
 * The embedded broker cannot start: `ADDRESS_IN_USE` (the port is taken, a configuration problem:
 * exit 2) or `LISTEN_FAILED` (anything else the operating system refused).
 */
export class BrokerError extends GridletError<"ADDRESS_IN_USE" | "LISTEN_FAILED"> {}

/**
 * A login refused for a reason of its own (the envelope checks give ProtocolError codes: REPLAY,
 * STALE, BAD_SIGNATURE, ...): a token for another aggregator, or a client id of another identity.
 */
export class LoginError extends GridletError<"WRONG_AUDIENCE" | "CLIENT_ID_NOT_OWNED"> {}
