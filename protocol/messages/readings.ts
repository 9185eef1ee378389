import { z } from "#zod";

/**
 * Bodies of the agent ↔ aggregator messages of the metering path: readings up, receipts down, and the
 * login token an agent presents as its MQTT password. Signed bodies hold integers only, with the scale in
 * the name: energy in Wh, power in mW, voltage in mV, current in mA, frequency in mHz.
 */

export const MSG_READING = "reading";
export const MSG_RECEIPT = "receipt";
export const MSG_LOGIN = "login";

const wh = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const milli = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/** A measured value in thousandths, as signed: rounded to the nearest integer, never −0. */
export function toMilli(x: number): number {
  return Math.round(x * 1000) + 0;
}

export const readingBodySchema = z
  .object({
    meter: z.string().min(1).max(64),
    /** when the meter was read (ms since epoch); the envelope's ts is when it was signed */
    ts: z.number().int().min(0),
    importWh: wh,
    exportWh: wh,
    /** active power, mW: positive when importing, negative when exporting */
    powerMilliW: milli,
    voltageMilliV: milli.optional(),
    currentMilliA: milli.optional(),
    frequencyMilliHz: milli.optional(),
  })
  .strict();
export type ReadingBody = z.infer<typeof readingBodySchema>;

/**
 * The aggregator's signed answer to one or more of an agent's envelopes. `acks` are sequence numbers
 * stored durably (or already stored: a resent envelope is acknowledged again); `rejected` are envelopes
 * whose signature was valid but that will never be accepted (bad body, unknown type, stale), so the
 * agent stops resending them.
 */
export const receiptBodySchema = z
  .object({
    to: z.string().min(1).max(128),
    acks: z.array(seq).max(100_000),
    rejected: z
      .array(z.object({ seq, code: z.string().min(1).max(64), reason: z.string().max(500) }).strict())
      .max(10_000)
      .default([]),
    /**
     * With an EQUIVOCATION: the highest sequence number the aggregator has stored from the agent. The
     * agent re-signs what it still holds above it (and above its own floor).
     */
    highestSeq: seq.optional(),
  })
  .strict();
export type ReceiptBody = z.infer<typeof receiptBodySchema>;

/**
 * The MQTT password: a login envelope signed by the identity named as the MQTT username, carrying its
 * certificate so that the broker can check it against the CA without a prior copy. It names the
 * aggregator it is for (`audience`); a timestamp within 30 s of the broker's clock and a sequence
 * number above the last login seen there make a captured token useless elsewhere, later or twice.
 */
export const loginBodySchema = z
  .object({
    purpose: z.literal("mqtt-login"),
    clientId: z.string().min(1).max(128),
    audience: z.string().min(1).max(128),
    cert: z.record(z.string(), z.unknown()),
  })
  .strict();
export type LoginBody = z.infer<typeof loginBodySchema>;
