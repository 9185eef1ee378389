/**
 * The Modbus PDU shared by RTU and TCP framing: read holding (3) and input (4) registers, their answers
 * and exception answers (function code | 0x80, one exception byte). Modbus Application Protocol v1.1b3.
 */
import { MeterError } from "../errors.js";

export type ReadFunction = 3 | 4;

export interface ReadRequest {
  unit: number;
  fc: ReadFunction;
  address: number;
  count: number;
}

/** The spec caps a read at 125 registers so that the answer fits a 256-byte RTU frame. */
export const MAX_READ_REGISTERS = 125;

export const EXCEPTION_NAMES: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

export function checkReadRequest(r: ReadRequest): void {
  const ok =
    Number.isInteger(r.unit) &&
    r.unit >= 0 &&
    r.unit <= 255 &&
    (r.fc === 3 || r.fc === 4) &&
    Number.isInteger(r.address) &&
    r.address >= 0 &&
    Number.isInteger(r.count) &&
    r.count >= 1 &&
    r.count <= MAX_READ_REGISTERS &&
    r.address + r.count <= 0x10000;
  if (!ok) throw new MeterError("FRAME_INVALID", "read request out of range", { ...r });
}

/** fc, address hi/lo, count hi/lo. */
export function encodeReadPdu(r: ReadRequest): Uint8Array {
  checkReadRequest(r);
  return Uint8Array.from([r.fc, r.address >> 8, r.address & 0xff, r.count >> 8, r.count & 0xff]);
}

/** The answer's PDU for given register values. */
export function encodeReadAnswerPdu(fc: number, registers: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(2 + registers.length * 2);
  out[0] = fc;
  out[1] = registers.length * 2;
  for (let i = 0; i < registers.length; i++) {
    out[2 + 2 * i] = (registers[i] >> 8) & 0xff;
    out[3 + 2 * i] = registers[i] & 0xff;
  }
  return out;
}

export function encodeExceptionPdu(fc: number, code: number): Uint8Array {
  return Uint8Array.from([(fc | 0x80) & 0xff, code & 0xff]);
}

export function modbusException(fc: number, code: number, context: Record<string, unknown> = {}): MeterError {
  const name = EXCEPTION_NAMES[code] ?? "unknown exception";
  return new MeterError(
    "MODBUS_EXCEPTION",
    `meter answered function ${fc} with exception ${code} (${name})`,
    {
      fc,
      exception: code,
      ...context,
    },
  );
}

/**
 * Decodes the PDU of an answer to `req`: the register values, or a MeterError (MODBUS_EXCEPTION for an
 * exception answer, UNEXPECTED_RESPONSE or FRAME_INVALID otherwise). Never throws.
 */
export function decodeReadAnswerPdu(pdu: Uint8Array, req: ReadRequest): Uint16Array | MeterError {
  if (pdu.length < 2)
    return new MeterError("FRAME_INVALID", "answer shorter than 2 bytes", { len: pdu.length });
  if (pdu[0] === (req.fc | 0x80)) {
    if (pdu.length !== 2) return new MeterError("FRAME_INVALID", "exception answer is not 2 bytes");
    return modbusException(req.fc, pdu[1], { unit: req.unit, address: req.address });
  }
  if (pdu[0] !== req.fc) {
    return new MeterError("UNEXPECTED_RESPONSE", `answer has function ${pdu[0]}, expected ${req.fc}`);
  }
  if (pdu[1] !== req.count * 2 || pdu.length !== 2 + req.count * 2) {
    return new MeterError("FRAME_INVALID", `answer carries ${pdu[1]} bytes, expected ${req.count * 2}`, {
      byteCount: pdu[1],
      len: pdu.length,
    });
  }
  const regs = new Uint16Array(req.count);
  for (let i = 0; i < req.count; i++) regs[i] = (pdu[2 + 2 * i] << 8) | pdu[3 + 2 * i];
  return regs;
}
