/**
 * The C protocol core, compiled here with cc: its own unit tests, and a byte-for-byte cross-check with the
 * TypeScript codec in both directions (frames the C core produced decode in TypeScript and re-encode to
 * the same bytes; frames TypeScript produced decode in C to the same fields, and broken ones fail alike).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { cobsDecode, cobsEncode } from "../firmware-bridge/codec/cobs.js";
import { decodeFrame, encodeFrame } from "../firmware-bridge/codec/frame.js";
import { FaultCode, fromFrame, type Message, NackCode, toFrame } from "../firmware-bridge/codec/messages.js";
import { BridgeError } from "../firmware-bridge/errors.js";
import { arbMessage } from "../firmware-bridge/testing/arbitraries.js";
import { buildProtoTest, tempDir } from "../firmware-bridge/testing/harness.js";

const bin = buildProtoTest(tempDir("gridlet-fw-c-"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** C's proto_result codes, by the TypeScript error code that means the same. */
const C_CODES: Record<string, number> = {
  FRAME_COBS: -1,
  FRAME_TOO_SHORT: -2,
  FRAME_LENGTH: -3,
  FRAME_CRC: -4,
  FRAME_VERSION: -5,
  FRAME_FLAGS: -6,
  FRAME_TOO_LONG: -7,
};

/** Splits C output into whole frames as written: 0x00, COBS block, 0x00. */
function splitFrames(wire: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < wire.length) {
    assert.equal(wire[at], 0, "each frame starts with a delimiter");
    const end = wire.indexOf(0, at + 1);
    assert.ok(end > at + 1, "and ends with one");
    out.push(wire.subarray(at, end + 1));
    at = end + 1;
  }
  return out;
}

describe("C protocol core", () => {
  it("passes its own unit tests", () => {
    const r = spawnSync(bin, [], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\d+ checks, 0 failures/);
  });

  it("produces frames that TypeScript decodes to the expected values and re-encodes to the same bytes", () => {
    const lines = execFileSync(bin, ["vectors"], { encoding: "utf8" }).trim().split("\n");
    const byName = new Map<string, { msg: Message; seq: number; response: boolean }[]>();
    for (const line of lines) {
      const [name, h] = line.split(" ");
      const envs = splitFrames(new Uint8Array(Buffer.from(h, "hex"))).map((wire) => {
        const env = fromFrame(decodeFrame(wire.subarray(1, -1)));
        assert.equal(hex(encodeFrame(toFrame(env.msg, env.seq, env.response))), hex(wire), name);
        return env;
      });
      byName.set(name, envs);
    }
    const [boot, fault] = byName.get("hello+fault") ?? [];
    assert.deepEqual(boot.msg, {
      kind: "hello",
      fw: { major: 1, minor: 0, patch: 0 },
      caps: 7,
      s0Channels: 2,
      relayChannels: 1,
      deviceId: 0x01020304,
      bootId: 0xa1b2c3d4,
      uptimeMs: 1234,
    });
    assert.equal(boot.response, false);
    assert.deepEqual(fault.msg, { kind: "fault", code: FaultCode.WATCHDOG_RESET, channel: 0xff, detail: 0 });
    const [c0, c1] = byName.get("pulse-counts") ?? [];
    assert.deepEqual(c0.msg, {
      kind: "pulseCount",
      channel: 0,
      count: 7,
      pulsesPerKwh: 1000,
      bootId: 0xa1b2c3d4,
      uptimeMs: 0x1122334455,
      lastPulseMs: 2300,
    });
    assert.ok(c1.msg.kind === "pulseCount" && c1.msg.count === 0xfffffff0);
    const [pong] = byName.get("pong") ?? [];
    assert.equal(pong.seq, 200);
    assert.deepEqual(pong.msg, { kind: "pong", uptimeMs: 0x1122334460, nonce: Uint8Array.of(0, 0, 0, 1) });
    const [relay] = byName.get("relay-state") ?? [];
    assert.deepEqual(relay, {
      seq: 255,
      response: true,
      msg: { kind: "relayState", channel: 0, on: true, feedback: true },
    });
    const [nack] = byName.get("nack") ?? [];
    assert.deepEqual(nack.msg, { kind: "nack", rejectedType: 0x20, code: NackCode.BAD_CHANNEL });
    const [ack] = byName.get("ack") ?? [];
    assert.deepEqual(ack, { seq: 17, response: true, msg: { kind: "ack", ackedType: 0x12 } });
  });

  it("decodes frames TypeScript encoded to the same fields, and refuses broken ones for the same reason", () => {
    const cases = fc.sample(fc.tuple(arbMessage, fc.nat(255), fc.boolean(), fc.nat(), fc.nat(255)), {
      numRuns: 400,
      seed: 42,
    });
    const input: string[] = [];
    const expected: string[] = [];
    cases.forEach(([msg, seq, response, pos, value], i) => {
      const frame = toFrame(msg, seq, response);
      let wire = encodeFrame(frame);
      // Every other frame is damaged: one byte of the de-stuffed frame replaced, then stuffed again.
      if (i % 2 === 1) {
        const raw = cobsDecode(wire.subarray(1, -1));
        raw[pos % raw.length] = value;
        wire = new Uint8Array([0, ...cobsEncode(raw), 0]);
      }
      input.push(hex(wire));
      try {
        const f = decodeFrame(wire.subarray(1, -1));
        expected.push(`ok ${f.type} ${f.flags} ${f.seq} ${hex(f.payload)}`);
      } catch (e) {
        if (!(e instanceof BridgeError)) throw e;
        expected.push(`err ${C_CODES[e.code]}`);
      }
    });
    const out = execFileSync(bin, ["decode"], { input: `${input.join("\n")}\n`, encoding: "utf8" })
      .trim()
      .split("\n");
    assert.equal(out.length, expected.length);
    for (let i = 0; i < out.length; i++) assert.equal(out[i], expected[i], `frame ${i}: ${input[i]}`);
    assert.ok(
      expected.some((e) => e.startsWith("err -4")),
      "some damaged frames fail the CRC",
    );
  });
});
