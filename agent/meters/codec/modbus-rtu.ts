/**
 * Modbus RTU framing and timing (Modbus over Serial Line v1.02): unit id, PDU, CRC-16/MODBUS low byte
 * first. Pure: the bus transport feeds received bytes in and decides about time.
 */
import { MeterError } from "../errors.js";
import { crc16Modbus } from "./crc.js";
import {
  checkReadRequest,
  decodeReadAnswerPdu,
  encodeExceptionPdu,
  encodeReadAnswerPdu,
  encodeReadPdu,
  type ReadRequest,
} from "./modbus-pdu.js";

export type Parity = "none" | "even" | "odd";

export interface LineSettings {
  baud: number;
  dataBits?: 7 | 8;
  parity?: Parity;
  stopBits?: 1 | 2;
}

function withCrc(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 2);
  out.set(body);
  const crc = crc16Modbus(body);
  out[body.length] = crc & 0xff;
  out[body.length + 1] = crc >> 8;
  return out;
}

function prefixUnit(unit: number, pdu: Uint8Array): Uint8Array {
  const body = new Uint8Array(pdu.length + 1);
  body[0] = unit;
  body.set(pdu, 1);
  return body;
}

export function encodeRtuRequest(r: ReadRequest): Uint8Array {
  return withCrc(prefixUnit(r.unit, encodeReadPdu(r)));
}

export function encodeRtuAnswer(unit: number, fc: number, registers: ArrayLike<number>): Uint8Array {
  return withCrc(prefixUnit(unit, encodeReadAnswerPdu(fc, registers)));
}

export function encodeRtuException(unit: number, fc: number, code: number): Uint8Array {
  return withCrc(prefixUnit(unit, encodeExceptionPdu(fc, code)));
}

export function rtuCrcValid(frame: Uint8Array, start = 0, end = frame.length): boolean {
  if (end - start < 4) return false;
  const crc = crc16Modbus(frame, start, end - 2);
  return frame[end - 2] === (crc & 0xff) && frame[end - 1] === crc >> 8;
}

/** Length of the RTU answer to a read of `count` registers: unit, fc, byte count, data, CRC. */
export function rtuAnswerLength(count: number): number {
  return 5 + 2 * count;
}
export const RTU_REQUEST_LENGTH = 8;
export const RTU_EXCEPTION_LENGTH = 5;

export type RtuScan =
  | { kind: "registers"; registers: Uint16Array; skipped: number; consumed: number }
  | { kind: "error"; error: MeterError; skipped: number; consumed: number }
  | { kind: "incomplete"; skipped: number };

/**
 * Looks for the answer to `req` in the bytes received so far. Leading bytes that cannot start the answer
 * are counted as `skipped` (line noise, echoes, a late answer to an earlier request). A complete
 * candidate with a bad CRC that ends the buffer is reported at once rather than after the timeout.
 */
export function scanRtuAnswer(buf: Uint8Array, req: ReadRequest): RtuScan {
  const full = rtuAnswerLength(req.count);
  let crcBad: { at: number; len: number } | undefined;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== req.unit) continue;
    if (i + 1 >= buf.length) return { kind: "incomplete", skipped: i };
    const fc = buf[i + 1];
    let len: number;
    if (fc === req.fc) {
      if (i + 2 < buf.length && buf[i + 2] !== req.count * 2) continue;
      len = full;
    } else if (fc === (req.fc | 0x80)) {
      len = RTU_EXCEPTION_LENGTH;
    } else continue;
    if (buf.length - i < len) {
      // The answer may still be arriving; do not look past it for another start.
      return { kind: "incomplete", skipped: i };
    }
    if (!rtuCrcValid(buf, i, i + len)) {
      crcBad ??= { at: i, len };
      continue;
    }
    const decoded = decodeReadAnswerPdu(buf.subarray(i + 1, i + len - 2), req);
    if (decoded instanceof MeterError)
      return { kind: "error", error: decoded, skipped: i, consumed: i + len };
    return { kind: "registers", registers: decoded, skipped: i, consumed: i + len };
  }
  if (crcBad && crcBad.at + crcBad.len === buf.length) {
    return {
      kind: "error",
      error: new MeterError("CRC_MISMATCH", "answer failed its CRC-16/MODBUS check", {
        unit: req.unit,
        bytes: crcBad.len,
      }),
      skipped: crcBad.at,
      consumed: buf.length,
    };
  }
  return { kind: "incomplete", skipped: buf.length };
}

export interface RtuRequestScan {
  requests: ReadRequest[];
  /** bytes to keep for the next scan (an unfinished request) */
  rest: Uint8Array;
  skipped: number;
}

/** For the emulated meter: finds read requests (fc 3 or 4) in the bytes received so far. */
export function scanRtuRequests(buf: Uint8Array): RtuRequestScan {
  const requests: ReadRequest[] = [];
  let skipped = 0;
  let i = 0;
  while (buf.length - i >= RTU_REQUEST_LENGTH) {
    const fc = buf[i + 1];
    if ((fc === 3 || fc === 4) && rtuCrcValid(buf, i, i + RTU_REQUEST_LENGTH)) {
      const r: ReadRequest = {
        unit: buf[i],
        fc,
        address: (buf[i + 2] << 8) | buf[i + 3],
        count: (buf[i + 4] << 8) | buf[i + 5],
      };
      requests.push(r);
      i += RTU_REQUEST_LENGTH;
    } else {
      i++;
      skipped++;
    }
  }
  return { requests, rest: buf.slice(i), skipped };
}

/** Bits per character on the line: start bit, data bits, optional parity, stop bits (10 for 8N1, 11 for 8E1). */
export function bitsPerChar(s: LineSettings): number {
  return 1 + (s.dataBits ?? 8) + ((s.parity ?? "none") === "none" ? 0 : 1) + (s.stopBits ?? 1);
}

export function charTimeMs(s: LineSettings): number {
  return (bitsPerChar(s) * 1000) / s.baud;
}

/** Silent interval between frames: 3.5 character times, fixed at 1.75 ms above 19200 baud (spec 2.5.1.1). */
export function interFrameGapMs(s: LineSettings): number {
  return s.baud > 19200 ? 1.75 : 3.5 * charTimeMs(s);
}

export function wireTimeMs(bytes: number, s: LineSettings): number {
  return bytes * charTimeMs(s);
}

/**
 * Shortest possible time for one read of `count` registers: request, gap, answer, gap. The physical
 * limit of reads per second on the bus is 1000 / this.
 */
export function readTransactionMs(count: number, s: LineSettings): number {
  return wireTimeMs(RTU_REQUEST_LENGTH + rtuAnswerLength(count), s) + 2 * interFrameGapMs(s);
}

export { checkReadRequest };
