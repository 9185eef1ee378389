import { errorFamily, type FamilyError } from "../protocol/errors.js";

/**
 * Why a firmware-bridge frame, request or configuration was rejected. Callers branch on the code; the
 * context names the offending value (the CRC received and computed, the length, the NACK code).
 */
export type BridgeErrorCode =
  /** COBS structure broken (a code byte points past the end of the frame) */
  | "FRAME_COBS"
  /** more bytes than the longest legal frame arrived before a delimiter */
  | "FRAME_TOO_LONG"
  /** fewer bytes than header + CRC */
  | "FRAME_TOO_SHORT"
  /** header length field disagrees with the bytes received, or exceeds the payload limit */
  | "FRAME_LENGTH"
  | "FRAME_CRC"
  | "FRAME_VERSION"
  | "FRAME_FLAGS"
  | "UNKNOWN_TYPE"
  /** payload size or field values wrong for the message type */
  | "PAYLOAD_INVALID"
  /** the firmware answered with NACK; context.nack holds its code */
  | "NACK"
  /** no answer after every retry */
  | "TIMEOUT"
  /** the relay did not report the commanded state */
  | "RELAY_NOT_CONFIRMED"
  /** no handshake yet, or the link was lost */
  | "NOT_CONNECTED"
  | "PORT_ERROR"
  | "CLOSED"
  /** persisted accumulator state or driver options that cannot be used */
  | "CONFIG_INVALID";

/** The context of the codes callers read it for (`isBridgeError(e, "NACK") && e.context.nack === …`). */
export interface BridgeErrorContexts {
  /** the request the firmware refused and the name of its NACK code */
  NACK: { request: string; nack: string };
  RELAY_NOT_CONFIRMED: { channel: number; commanded: boolean; reported: boolean; feedback: boolean | null };
}

export const { Error: BridgeError, is: isBridgeError } = errorFamily<BridgeErrorCode, BridgeErrorContexts>(
  "BridgeError",
);
export type BridgeError = FamilyError<BridgeErrorCode, BridgeErrorContexts>;
