import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BridgeError, isBridgeError } from "../errors.js";
import { arbMessage } from "../testing/arbitraries.js";
import { cobsDecode, cobsEncode } from "./cobs.js";
import { crc16CcittFalse } from "./crc16.js";
import { decodeFrame, encodeFrame, encodeRaw, type Frame, MAX_ENCODED, MAX_PAYLOAD } from "./frame.js";
import { fromFrame, type Message, MsgType, toFrame } from "./messages.js";
import { FrameDecoder } from "./stream.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof BridgeError) return e.code;
    throw e;
  }
  return "OK";
}

describe("CRC-16/CCITT-FALSE", () => {
  it("gives the catalogue check value 0x29B1 for '123456789'", () => {
    assert.equal(crc16CcittFalse(new TextEncoder().encode("123456789")), 0x29b1);
    assert.equal(crc16CcittFalse(new Uint8Array(0)), 0xffff);
  });
});

describe("COBS", () => {
  it("matches the published examples", () => {
    const cases: [string, string][] = [
      ["00", "0101"],
      ["0000", "010101"],
      ["11220033", "0311220233"],
      ["11223344", "0511223344"],
      ["11000000", "0211010101"],
    ];
    for (const [raw, enc] of cases) {
      assert.equal(hex(cobsEncode(bytes(raw))), enc, raw);
      assert.equal(hex(cobsDecode(bytes(enc))), raw, enc);
    }
    const run = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
    assert.equal(hex(cobsEncode(run)), `ff${hex(run)}`);
  });

  it("round-trips any bytes and never emits a zero", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (raw) => {
        const enc = cobsEncode(raw);
        assert.ok(!enc.includes(0));
        assert.deepEqual(cobsDecode(enc), raw);
      }),
    );
  });

  it("rejects a code byte that points past the end", () => {
    assert.equal(
      codeOf(() => cobsDecode(bytes("0511"))),
      "FRAME_COBS",
    );
  });
});

describe("frames", () => {
  const frame: Frame = { type: MsgType.RELAY_STATE, flags: 1, seq: 9, payload: bytes("000700") };

  it("round-trip and have a delimiter only at each end", () => {
    const wire = encodeFrame(frame);
    assert.equal(wire[0], 0);
    assert.equal(wire.indexOf(0, 1), wire.length - 1);
    assert.deepEqual(decodeFrame(wire.subarray(1, -1)), frame);
  });

  it("name each way a frame can be broken", () => {
    const raw = encodeRaw(frame);
    const flip = (i: number, v?: number) => {
      const r = raw.slice();
      r[i] = v ?? r[i] ^ 0x01;
      return () => decodeFrame(cobsEncode(r));
    };
    assert.equal(codeOf(flip(6)), "FRAME_CRC");
    assert.equal(codeOf(flip(4, 4)), "FRAME_LENGTH");
    assert.equal(codeOf(flip(4, 200)), "FRAME_LENGTH");
    assert.equal(
      codeOf(() => decodeFrame(cobsEncode(bytes("0102")))),
      "FRAME_TOO_SHORT",
    );
    assert.equal(
      codeOf(() => decodeFrame(new Uint8Array(MAX_ENCODED + 1).fill(1))),
      "FRAME_TOO_LONG",
    );
    assert.equal(
      codeOf(() => encodeRaw({ ...frame, payload: new Uint8Array(MAX_PAYLOAD + 1) })),
      "FRAME_LENGTH",
    );
    // Version and flags are checked after the CRC, so they need a frame with a valid CRC.
    const v2 = encodeRaw(frame);
    v2[0] = 2;
    const crc = crc16CcittFalse(v2, 0, v2.length - 2);
    v2[v2.length - 2] = crc & 0xff;
    v2[v2.length - 1] = crc >> 8;
    assert.equal(
      codeOf(() => decodeFrame(cobsEncode(v2))),
      "FRAME_VERSION",
    );
    assert.equal(
      codeOf(() => decodeFrame(encodeFrame({ ...frame, flags: 0x80 }).subarray(1, -1))),
      "FRAME_FLAGS",
    );
  });
});

describe("messages", () => {
  it("decode to what was encoded, for every type", () => {
    fc.assert(
      fc.property(arbMessage, fc.nat(255), fc.boolean(), (msg, seq, response) => {
        const env = fromFrame(decodeFrame(encodeFrame(toFrame(msg, seq, response)).subarray(1, -1)));
        assert.deepEqual(env, { msg, seq, response });
      }),
    );
  });

  it("refuse wrong payload sizes, bad booleans, zero pulses per kWh and unknown types", () => {
    const f = (type: number, payload: string) => () =>
      fromFrame({ type, flags: 0, seq: 0, payload: bytes(payload) });
    assert.equal(codeOf(f(MsgType.PULSE_COUNT, "00")), "PAYLOAD_INVALID");
    assert.equal(codeOf(f(MsgType.RELAY_SET, "0002")), "PAYLOAD_INVALID");
    assert.equal(codeOf(f(MsgType.RELAY_STATE, "000107")), "PAYLOAD_INVALID");
    assert.equal(codeOf(f(MsgType.PULSE_COUNT, `00${"00".repeat(4)}${"00".repeat(24)}`)), "PAYLOAD_INVALID");
    assert.equal(codeOf(f(MsgType.PING, "00".repeat(17))), "PAYLOAD_INVALID");
    assert.equal(codeOf(f(0x7e, "")), "UNKNOWN_TYPE");
    assert.equal(codeOf(f(MsgType.HELLO, "00".repeat(14) + "ff".repeat(8))), "PAYLOAD_INVALID");
  });
});

describe("stream decoder", () => {
  const chunked = (data: Uint8Array, cuts: number[]) => {
    const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let at = 0;
    for (const p of points) {
      out.push(data.subarray(at, p));
      at = p;
    }
    out.push(data.subarray(at));
    return out;
  };

  it("returns frames or typed errors for any bytes in any chunks, never throws, keeps memory bounded", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 20 }), (data, cuts) => {
        const d = new FrameDecoder();
        let items = 0;
        for (const c of chunked(data, cuts)) {
          for (const it of d.push(c)) {
            items++;
            if (!it.ok) assert.ok(isBridgeError(it.error));
          }
        }
        assert.ok(items <= data.length);
      }),
      { numRuns: 500 },
    );
  });

  it("finds every frame after garbage, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(arbMessage, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (garbage, msgs, cuts) => {
          const frames = msgs.map((m, i) => encodeFrame(toFrame(m, i)));
          const data = Buffer.concat([garbage, Uint8Array.of(0), ...frames]);
          const d = new FrameDecoder();
          const got: Message[] = [];
          for (const c of chunked(new Uint8Array(data), cuts)) {
            for (const it of d.push(c)) if (it.ok) got.push(fromFrame(it.frame).msg);
          }
          // Garbage may itself contain a valid frame only with negligible probability (CRC + structure).
          assert.deepEqual(got.slice(-msgs.length), msgs);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reports an over-long run once and recovers at the next delimiter", () => {
    const d = new FrameDecoder();
    const noise = new Uint8Array(1000).fill(0x55);
    const items = [
      ...d.push(noise),
      ...d.push(Uint8Array.of(0)),
      ...d.push(encodeFrame(toFrame({ kind: "relayGet", channel: 0 }, 3))),
    ];
    assert.equal(items.length, 2);
    assert.equal(items[0].ok ? "" : items[0].error.code, "FRAME_TOO_LONG");
    assert.ok(items[1].ok && items[1].frame.seq === 3);
  });
});
