import { GridletError } from "../../protocol/errors.js";

/**
 * The embedded broker cannot start: `ADDRESS_IN_USE` (the port is taken, a configuration problem:
 * exit 2) or `LISTEN_FAILED` (anything else the operating system refused).
 */
export class BrokerError extends GridletError<"ADDRESS_IN_USE" | "LISTEN_FAILED"> {}
