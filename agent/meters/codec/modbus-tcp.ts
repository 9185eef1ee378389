/**
 * Modbus TCP framing: the MBAP header (transaction id, protocol id 0, length of unit id + PDU, unit id)
 * before the PDU (Modbus Messaging on TCP/IP Implementation Guide v1.0b, 3.1.3). No CRC: TCP checks.
 */
import { MeterError } from "../errors.js";
import { encodeExceptionPdu, encodeReadAnswerPdu, encodeReadPdu, type ReadRequest } from "./modbus-pdu.js";

export interface TcpFrame {
  transactionId: number;
  unit: number;
  pdu: Uint8Array;
}

/** MBAP length counts unit id + PDU; the largest PDU is 253 bytes. */
const MAX_MBAP_LENGTH = 254;

export function encodeMbap(transactionId: number, unit: number, pdu: Uint8Array): Uint8Array {
  const out = new Uint8Array(7 + pdu.length);
  out[0] = (transactionId >> 8) & 0xff;
  out[1] = transactionId & 0xff;
  out[2] = 0;
  out[3] = 0;
  out[4] = ((pdu.length + 1) >> 8) & 0xff;
  out[5] = (pdu.length + 1) & 0xff;
  out[6] = unit & 0xff;
  out.set(pdu, 7);
  return out;
}

export function encodeTcpRequest(transactionId: number, r: ReadRequest): Uint8Array {
  return encodeMbap(transactionId, r.unit, encodeReadPdu(r));
}

export function encodeTcpAnswer(tid: number, unit: number, fc: number, regs: ArrayLike<number>): Uint8Array {
  return encodeMbap(tid, unit, encodeReadAnswerPdu(fc, regs));
}

export function encodeTcpException(tid: number, unit: number, fc: number, code: number): Uint8Array {
  return encodeMbap(tid, unit, encodeExceptionPdu(fc, code));
}

/**
 * Splits a TCP byte stream into MBAP frames. A header that cannot be right (protocol id not 0, length
 * out of range) poisons the stream: there is no way to resynchronise, so the caller drops the connection.
 */
export class MbapFramer {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): TcpFrame[] | MeterError {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const frames: TcpFrame[] = [];
    let i = 0;
    while (joined.length - i >= 7) {
      const protocol = (joined[i + 2] << 8) | joined[i + 3];
      const len = (joined[i + 4] << 8) | joined[i + 5];
      if (protocol !== 0 || len < 2 || len > MAX_MBAP_LENGTH) {
        this.buf = new Uint8Array(0);
        return new MeterError("FRAME_INVALID", "MBAP header is invalid", { protocol, len });
      }
      if (joined.length - i < 6 + len) break;
      frames.push({
        transactionId: (joined[i] << 8) | joined[i + 1],
        unit: joined[i + 6],
        pdu: joined.slice(i + 7, i + 6 + len),
      });
      i += 6 + len;
    }
    this.buf = joined.slice(i);
    return frames;
  }
}
