import { GridletError } from "../../protocol/errors.js";

/** Why a meter read, a frame or a meter file was rejected. Callers branch on these, never on messages. */
export type MeterErrorCode =
  | "CRC_MISMATCH"
  | "TIMEOUT"
  | "MODBUS_EXCEPTION"
  | "FRAME_INVALID"
  | "FRAME_TOO_LONG"
  | "UNEXPECTED_RESPONSE"
  | "VALUE_MISSING"
  | "VALUE_INVALID"
  | "PORT_CLOSED"
  | "PORT_ERROR"
  | "PROFILE_INVALID"
  | "PROFILE_UNKNOWN"
  | "CONFIG_INVALID"
  | "LOG_INVALID"
  | "END_OF_LOG"
  | "CLOSED";

export class MeterError extends GridletError<MeterErrorCode> {}

export function isMeterError(e: unknown, code?: MeterErrorCode): e is MeterError {
  return e instanceof MeterError && (code === undefined || e.code === code);
}
