import type { Logger } from "./log.js";

/**
 * Logs a failed subscribe (MQTT.js's callback error). A broker that refuses a filter (a SUBACK reason
 * code of 0x80 or above: an ACL; MQTT.js hands the SUBACK over as the error's `packet`) is a
 * configuration problem and warned of. A subscribe whose connection closed before its SUBACK (the peer or this process
 * stopping, a broker restart) is none: the next connect subscribes again, so it is logged at debug.
 */
export function logSubscribeOutcome(
  log: Logger,
  what: string,
  fields: Record<string, unknown>,
  err: (Error & { packet?: unknown }) | null | undefined,
): void {
  if (!err) return;
  if (err.packet !== undefined) log.warn(`${what} refused by the broker`, { ...fields, error: err.message });
  else log.debug(`${what}: not subscribed, until the next connection`, { ...fields, error: err.message });
}
