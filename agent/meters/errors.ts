import { errorFamily, type FamilyError } from "../../protocol/errors.js";

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

/** The context of the codes callers read it for (`isMeterError(e, "MODBUS_EXCEPTION") && e.context.exception === 2`). */
export interface MeterErrorContexts {
  /** the function code asked for and the exception code the meter answered (plus where, if known) */
  MODBUS_EXCEPTION: { fc: number; exception: number; [where: string]: unknown };
}

export const { Error: MeterError, is: isMeterError } = errorFamily<MeterErrorCode, MeterErrorContexts>(
  "MeterError",
);
export type MeterError = FamilyError<MeterErrorCode, MeterErrorContexts>;
