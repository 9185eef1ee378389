/**
 * Typed messages carried in frames (docs/FIRMWARE-BRIDGE.md, "Messages"). Integers are little-endian,
 * as on the AVR and ARM cores the firmware targets. Decoding checks the exact payload size for each type
 * and every enumerated field, so a message that passes is fully usable.
 */
import { BridgeError } from "../errors.js";
import { FLAG_RESPONSE, type Frame } from "./frame.js";

export const MsgType = {
  HELLO: 0x01,
  PING: 0x02,
  PONG: 0x03,
  ACK: 0x04,
  NACK: 0x05,
  PULSE_GET: 0x10,
  PULSE_COUNT: 0x11,
  PULSE_CONFIG: 0x12,
  RELAY_SET: 0x20,
  RELAY_GET: 0x21,
  RELAY_STATE: 0x22,
  FAULT: 0x30,
} as const;

/** Why the firmware refused a request. */
export const NackCode = {
  UNKNOWN_TYPE: 1,
  BAD_LENGTH: 2,
  BAD_CHANNEL: 3,
  BAD_VALUE: 4,
  BAD_VERSION: 5,
} as const;
export type NackCodeName = keyof typeof NackCode;

export const FaultCode = {
  RELAY_FEEDBACK_MISMATCH: 1,
  PULSE_BOUNCE: 2,
  RX_ERRORS: 3,
  WATCHDOG_RESET: 4,
  BROWNOUT: 5,
} as const;
export type FaultCodeName = keyof typeof FaultCode;

export const Capability = { S0: 0x01, RELAY: 0x02, RELAY_FEEDBACK: 0x04 } as const;

/** RELAY_STATE.feedback when the board has no auxiliary contact to read back. */
export const FEEDBACK_NONE = 0xff;
export const NO_CHANNEL = 0xff;
export const MAX_NONCE = 16;

export type Message =
  | { kind: "helloRequest" }
  | {
      kind: "hello";
      fw: { major: number; minor: number; patch: number };
      caps: number;
      s0Channels: number;
      relayChannels: number;
      deviceId: number;
      bootId: number;
      uptimeMs: number;
    }
  | { kind: "ping"; nonce: Uint8Array }
  | { kind: "pong"; uptimeMs: number; nonce: Uint8Array }
  | { kind: "ack"; ackedType: number }
  | { kind: "nack"; rejectedType: number; code: number }
  | { kind: "pulseGet"; channel: number }
  | {
      kind: "pulseCount";
      channel: number;
      /** pulses since boot, wraps at 2^32 */
      count: number;
      pulsesPerKwh: number;
      bootId: number;
      uptimeMs: number;
      /** uptime of the last counted pulse edge; meaningless while count is 0 */
      lastPulseMs: number;
    }
  | { kind: "pulseConfig"; channel: number; pulsesPerKwh: number; debounceMs: number }
  | { kind: "relaySet"; channel: number; on: boolean }
  | { kind: "relayGet"; channel: number }
  | { kind: "relayState"; channel: number; on: boolean; feedback: boolean | null }
  | { kind: "fault"; code: number; channel: number; detail: number };

export type MessageKind = Message["kind"];

export interface Envelope {
  msg: Message;
  seq: number;
  response: boolean;
}

class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.view.setUint8(this.at++, v);
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.at, v, true);
    this.at += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
    return this;
  }
  u64(v: number): this {
    this.view.setBigUint64(this.at, BigInt(v), true);
    this.at += 8;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.at);
    this.at += b.length;
    return this;
  }
}

function typeOf(msg: Message): number {
  switch (msg.kind) {
    case "helloRequest":
    case "hello":
      return MsgType.HELLO;
    case "ping":
      return MsgType.PING;
    case "pong":
      return MsgType.PONG;
    case "ack":
      return MsgType.ACK;
    case "nack":
      return MsgType.NACK;
    case "pulseGet":
      return MsgType.PULSE_GET;
    case "pulseCount":
      return MsgType.PULSE_COUNT;
    case "pulseConfig":
      return MsgType.PULSE_CONFIG;
    case "relaySet":
      return MsgType.RELAY_SET;
    case "relayGet":
      return MsgType.RELAY_GET;
    case "relayState":
      return MsgType.RELAY_STATE;
    case "fault":
      return MsgType.FAULT;
  }
}

function payloadOf(msg: Message): Uint8Array {
  switch (msg.kind) {
    case "helloRequest":
      return new Uint8Array(0);
    case "hello":
      return new Writer(22)
        .u8(msg.fw.major)
        .u8(msg.fw.minor)
        .u8(msg.fw.patch)
        .u8(msg.caps)
        .u8(msg.s0Channels)
        .u8(msg.relayChannels)
        .u32(msg.deviceId)
        .u32(msg.bootId)
        .u64(msg.uptimeMs).bytes;
    case "ping":
      return msg.nonce.slice();
    case "pong":
      return new Writer(8 + msg.nonce.length).u64(msg.uptimeMs).raw(msg.nonce).bytes;
    case "ack":
      return new Writer(1).u8(msg.ackedType).bytes;
    case "nack":
      return new Writer(2).u8(msg.rejectedType).u8(msg.code).bytes;
    case "pulseGet":
    case "relayGet":
      return new Writer(1).u8(msg.channel).bytes;
    case "pulseCount":
      return new Writer(29)
        .u8(msg.channel)
        .u32(msg.count)
        .u32(msg.pulsesPerKwh)
        .u32(msg.bootId)
        .u64(msg.uptimeMs)
        .u64(msg.lastPulseMs).bytes;
    case "pulseConfig":
      return new Writer(7).u8(msg.channel).u32(msg.pulsesPerKwh).u16(msg.debounceMs).bytes;
    case "relaySet":
      return new Writer(2).u8(msg.channel).u8(msg.on ? 1 : 0).bytes;
    case "relayState":
      return new Writer(3)
        .u8(msg.channel)
        .u8(msg.on ? 1 : 0)
        .u8(msg.feedback === null ? FEEDBACK_NONE : msg.feedback ? 1 : 0).bytes;
    case "fault":
      return new Writer(6).u8(msg.code).u8(msg.channel).u32(msg.detail).bytes;
  }
}

export function toFrame(msg: Message, seq: number, response = false): Frame {
  return { type: typeOf(msg), flags: response ? FLAG_RESPONSE : 0, seq: seq & 0xff, payload: payloadOf(msg) };
}

function bad(type: number, why: string, payload: Uint8Array): BridgeError {
  return new BridgeError("PAYLOAD_INVALID", `type 0x${type.toString(16)}: ${why}`, {
    type,
    length: payload.length,
  });
}

function size(f: Frame, min: number, max = min): DataView {
  if (f.payload.length < min || f.payload.length > max) {
    const want = min === max ? `${min}` : `${min}..${max}`;
    throw bad(f.type, `payload of ${f.payload.length} bytes, expected ${want}`, f.payload);
  }
  return new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length);
}

function u64(v: DataView, at: number, f: Frame): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(f.type, "64-bit time beyond 2^53 ms", f.payload);
  return Number(n);
}

function bool(v: number, f: Frame, field: string): boolean {
  if (v > 1) throw bad(f.type, `${field} is ${v}, expected 0 or 1`, f.payload);
  return v === 1;
}

export function fromFrame(f: Frame): Envelope {
  return { msg: decodePayload(f), seq: f.seq, response: (f.flags & FLAG_RESPONSE) !== 0 };
}

function decodePayload(f: Frame): Message {
  switch (f.type) {
    case MsgType.HELLO: {
      if (f.payload.length === 0) return { kind: "helloRequest" };
      const v = size(f, 22);
      return {
        kind: "hello",
        fw: { major: v.getUint8(0), minor: v.getUint8(1), patch: v.getUint8(2) },
        caps: v.getUint8(3),
        s0Channels: v.getUint8(4),
        relayChannels: v.getUint8(5),
        deviceId: v.getUint32(6, true),
        bootId: v.getUint32(10, true),
        uptimeMs: u64(v, 14, f),
      };
    }
    case MsgType.PING:
      size(f, 0, MAX_NONCE);
      return { kind: "ping", nonce: f.payload.slice() };
    case MsgType.PONG: {
      const v = size(f, 8, 8 + MAX_NONCE);
      return { kind: "pong", uptimeMs: u64(v, 0, f), nonce: f.payload.slice(8) };
    }
    case MsgType.ACK:
      return { kind: "ack", ackedType: size(f, 1).getUint8(0) };
    case MsgType.NACK: {
      const v = size(f, 2);
      return { kind: "nack", rejectedType: v.getUint8(0), code: v.getUint8(1) };
    }
    case MsgType.PULSE_GET:
      return { kind: "pulseGet", channel: size(f, 1).getUint8(0) };
    case MsgType.PULSE_COUNT: {
      const v = size(f, 29);
      const pulsesPerKwh = v.getUint32(5, true);
      if (pulsesPerKwh === 0) throw bad(f.type, "pulses per kWh is 0", f.payload);
      return {
        kind: "pulseCount",
        channel: v.getUint8(0),
        count: v.getUint32(1, true),
        pulsesPerKwh,
        bootId: v.getUint32(9, true),
        uptimeMs: u64(v, 13, f),
        lastPulseMs: u64(v, 21, f),
      };
    }
    case MsgType.PULSE_CONFIG: {
      const v = size(f, 7);
      return {
        kind: "pulseConfig",
        channel: v.getUint8(0),
        pulsesPerKwh: v.getUint32(1, true),
        debounceMs: v.getUint16(5, true),
      };
    }
    case MsgType.RELAY_SET: {
      const v = size(f, 2);
      return { kind: "relaySet", channel: v.getUint8(0), on: bool(v.getUint8(1), f, "on") };
    }
    case MsgType.RELAY_GET:
      return { kind: "relayGet", channel: size(f, 1).getUint8(0) };
    case MsgType.RELAY_STATE: {
      const v = size(f, 3);
      const fb = v.getUint8(2);
      return {
        kind: "relayState",
        channel: v.getUint8(0),
        on: bool(v.getUint8(1), f, "on"),
        feedback: fb === FEEDBACK_NONE ? null : bool(fb, f, "feedback"),
      };
    }
    case MsgType.FAULT: {
      const v = size(f, 6);
      return { kind: "fault", code: v.getUint8(0), channel: v.getUint8(1), detail: v.getUint32(2, true) };
    }
    default:
      throw new BridgeError("UNKNOWN_TYPE", `unknown message type 0x${f.type.toString(16)}`, {
        type: f.type,
      });
  }
}

export function nackName(code: number): string {
  for (const [k, v] of Object.entries(NackCode)) if (v === code) return k;
  return `UNKNOWN_${code}`;
}

export function faultName(code: number): string {
  for (const [k, v] of Object.entries(FaultCode)) if (v === code) return k;
  return `UNKNOWN_${code}`;
}
