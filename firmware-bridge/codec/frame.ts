/**
 * One frame of the firmware-bridge protocol (docs/FIRMWARE-BRIDGE.md, "Frame"): a 5-byte header, the
 * payload and a CRC-16/CCITT-FALSE over both, COBS-encoded and ended by 0x00 on the wire.
 */
import { BridgeError } from "../errors.js";
import { cobsDecode, cobsEncode } from "./cobs.js";
import { crc16CcittFalse } from "./crc16.js";

export const PROTOCOL_VERSION = 1;
export const HEADER_LEN = 5;
export const CRC_LEN = 2;
/** Small enough for a 128-byte MCU receive buffer; the largest message (PULSE_COUNT) needs 29. */
export const MAX_PAYLOAD = 64;
export const MAX_RAW = HEADER_LEN + MAX_PAYLOAD + CRC_LEN;
/** COBS adds one byte per started block of 254; the delimiter is not counted. */
export const MAX_ENCODED = MAX_RAW + 1;
export const DELIMITER = 0x00;

/** bit 0: this frame answers the request that carried the same sequence number */
export const FLAG_RESPONSE = 0x01;
const KNOWN_FLAGS = FLAG_RESPONSE;

export interface Frame {
  type: number;
  flags: number;
  seq: number;
  payload: Uint8Array;
}

export function encodeRaw(f: Frame): Uint8Array {
  if (f.payload.length > MAX_PAYLOAD) {
    throw new BridgeError("FRAME_LENGTH", `payload of ${f.payload.length} bytes exceeds ${MAX_PAYLOAD}`, {
      length: f.payload.length,
    });
  }
  const raw = new Uint8Array(HEADER_LEN + f.payload.length + CRC_LEN);
  raw[0] = PROTOCOL_VERSION;
  raw[1] = f.type & 0xff;
  raw[2] = f.flags & 0xff;
  raw[3] = f.seq & 0xff;
  raw[4] = f.payload.length;
  raw.set(f.payload, HEADER_LEN);
  const crc = crc16CcittFalse(raw, 0, HEADER_LEN + f.payload.length);
  raw[HEADER_LEN + f.payload.length] = crc & 0xff;
  raw[HEADER_LEN + f.payload.length + 1] = crc >> 8;
  return raw;
}

/**
 * The bytes to write: 0x00, COBS(raw), 0x00. The leading delimiter ends any line noise the receiver got
 * before this frame, so that noise costs only itself and not the frame after it; receivers skip the empty
 * frame between two delimiters.
 */
export function encodeFrame(f: Frame): Uint8Array {
  const enc = cobsEncode(encodeRaw(f));
  const out = new Uint8Array(enc.length + 2);
  out[0] = DELIMITER;
  out.set(enc, 1);
  out[enc.length + 1] = DELIMITER;
  return out;
}

/** Checks a de-stuffed frame. The CRC is checked before the version so that noise reads as noise. */
export function decodeRaw(raw: Uint8Array): Frame {
  if (raw.length < HEADER_LEN + CRC_LEN) {
    throw new BridgeError("FRAME_TOO_SHORT", `frame of ${raw.length} bytes is shorter than header and CRC`, {
      length: raw.length,
    });
  }
  const len = raw[4];
  if (len > MAX_PAYLOAD || raw.length !== HEADER_LEN + len + CRC_LEN) {
    throw new BridgeError(
      "FRAME_LENGTH",
      `length field says ${len} payload bytes but the frame holds ${raw.length - HEADER_LEN - CRC_LEN}`,
      { declared: len, received: raw.length - HEADER_LEN - CRC_LEN },
    );
  }
  const want = crc16CcittFalse(raw, 0, HEADER_LEN + len);
  const got = raw[HEADER_LEN + len] | (raw[HEADER_LEN + len + 1] << 8);
  if (want !== got) {
    throw new BridgeError("FRAME_CRC", `CRC ${hex4(got)} received, ${hex4(want)} computed`, {
      received: got,
      computed: want,
    });
  }
  if (raw[0] !== PROTOCOL_VERSION) {
    throw new BridgeError("FRAME_VERSION", `protocol version ${raw[0]} is not ${PROTOCOL_VERSION}`, {
      version: raw[0],
      seq: raw[3],
      type: raw[1],
    });
  }
  if ((raw[2] & ~KNOWN_FLAGS) !== 0) {
    throw new BridgeError("FRAME_FLAGS", `unknown flag bits 0x${raw[2].toString(16)}`, { flags: raw[2] });
  }
  return { type: raw[1], flags: raw[2], seq: raw[3], payload: raw.slice(HEADER_LEN, HEADER_LEN + len) };
}

/** Decodes one COBS block taken from between two delimiters. */
export function decodeFrame(block: Uint8Array): Frame {
  if (block.length > MAX_ENCODED) {
    throw new BridgeError("FRAME_TOO_LONG", `frame of ${block.length} bytes exceeds ${MAX_ENCODED}`, {
      length: block.length,
    });
  }
  return decodeRaw(cobsDecode(block));
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, "0")}`;
}
