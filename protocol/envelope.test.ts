import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromHex, toHex } from "./bytes.js";
import { NodeEd25519 } from "./crypto/index.js";
import {
  decodeEnvelope,
  type Envelope,
  EnvelopeVerifier,
  encodeEnvelope,
  type SenderDirectory,
  signEnvelope,
} from "./envelope.js";
import { isProtocolError, type ProtocolErrorCode } from "./errors.js";

const ed = new NodeEd25519();
const aliceSeed = fromHex("11".repeat(32))!;
const malloryeed = fromHex("22".repeat(32))!;
const NOW = 1_767_225_600_000;

function directory(revoked = new Set<string>()): SenderDirectory {
  const keys = new Map([
    ["alice", ed.publicKey(aliceSeed)],
    ["bob", ed.publicKey(fromHex("33".repeat(32))!)],
  ]);
  return {
    lookup: (id) => {
      const k = keys.get(id);
      return k === undefined ? undefined : { publicKey: k, revoked: revoked.has(id) };
    },
  };
}

function reading(seq: number, ts = NOW, seed = aliceSeed): Envelope {
  return signEnvelope(
    { type: "reading", from: "alice", seq, ts, body: { importWh: 1200, exportWh: 0 } },
    seed,
  );
}

function expectCode(fn: () => unknown, code: ProtocolErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

describe("envelope verification", () => {
  it("accepts a valid envelope and records its sequence", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    const e = v.verify(encodeEnvelope(reading(1)));
    assert.equal(e.seq, 1);
    assert.deepEqual(e.body, { importWh: 1200, exportWh: 0 });
  });

  it("rejects a tampered body with BAD_SIGNATURE", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    const e = reading(1);
    expectCode(() => v.verify({ ...e, body: { importWh: 99999, exportWh: 0 } }), "BAD_SIGNATURE");
  });

  it("rejects a tampered header field (seq, ts, type) with BAD_SIGNATURE", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    const e = reading(5);
    expectCode(() => v.verify({ ...e, seq: 6 }), "BAD_SIGNATURE");
    expectCode(() => v.verify({ ...e, ts: NOW - 1 }), "BAD_SIGNATURE");
    expectCode(() => v.verify({ ...e, type: "order" }), "BAD_SIGNATURE");
  });

  it("rejects a signature by the wrong key with BAD_SIGNATURE", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    expectCode(() => v.verify(reading(1, NOW, malloryeed)), "BAD_SIGNATURE");
  });

  it("rejects an unknown sender with UNKNOWN_SENDER", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    const e = signEnvelope({ type: "reading", from: "carol", seq: 1, ts: NOW, body: {} }, aliceSeed);
    expectCode(() => v.verify(e), "UNKNOWN_SENDER");
  });

  it("rejects a revoked sender with REVOKED_SENDER", () => {
    const v = new EnvelopeVerifier({ directory: directory(new Set(["alice"])), now: () => NOW });
    expectCode(() => v.verify(reading(1)), "REVOKED_SENDER");
  });

  it("rejects a replayed or lower sequence with REPLAY, and a forged message does not advance it", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    v.verify(reading(7));
    expectCode(() => v.verify(reading(7)), "REPLAY");
    expectCode(() => v.verify(reading(3)), "REPLAY");
    expectCode(() => v.verify(reading(1000, NOW, malloryeed)), "BAD_SIGNATURE");
    assert.equal(v.verify(reading(8)).seq, 8);
  });

  it("rejects stale and future timestamps, with a per-type age limit", () => {
    const v = new EnvelopeVerifier({
      directory: directory(),
      now: () => NOW,
      freshness: { maxAgeMs: (t) => (t === "reading" ? 86_400_000 : 60_000), maxFutureMs: 5_000 },
    });
    expectCode(() => v.verify(reading(1, NOW - 86_400_001)), "STALE");
    expectCode(() => v.verify(reading(2, NOW + 5_001)), "FUTURE");
    assert.equal(v.verify(reading(3, NOW - 86_000_000)).seq, 3);
    const order = signEnvelope(
      { type: "order", from: "alice", seq: 4, ts: NOW - 60_001, body: {} },
      aliceSeed,
    );
    expectCode(() => v.verify(order), "STALE");
  });

  it("rejects truncated, non-JSON and wrongly shaped input with MALFORMED", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    const bytes = encodeEnvelope(reading(1));
    expectCode(() => v.verify(bytes.subarray(0, bytes.length - 10)), "MALFORMED");
    expectCode(() => v.verify("not json at all"), "MALFORMED");
    expectCode(() => v.verify("[1,2,3]"), "MALFORMED");
    const e = reading(1) as unknown as Record<string, unknown>;
    expectCode(() => decodeEnvelope(JSON.stringify({ ...e, seq: -1 })), "MALFORMED");
    expectCode(() => decodeEnvelope(JSON.stringify({ ...e, seq: 1.5 })), "MALFORMED");
    expectCode(() => decodeEnvelope(JSON.stringify({ ...e, sig: "zz" })), "MALFORMED");
    expectCode(() => decodeEnvelope(JSON.stringify({ ...e, extra: 1 })), "MALFORMED");
    const { body: _b, ...noBody } = e;
    expectCode(() => decodeEnvelope(JSON.stringify(noBody)), "MALFORMED");
  });

  it("decoder: arbitrary bytes give an envelope or a typed ProtocolError, never anything else", () => {
    const v = new EnvelopeVerifier({ directory: directory(), now: () => NOW });
    const valid = encodeEnvelope(reading(1));
    const check = (data: Uint8Array | string) => {
      try {
        v.check(data);
      } catch (e) {
        assert.ok(isProtocolError(e), `unexpected ${String(e)}`);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.json(), check), { numRuns: 1000 });
    // Mutations of a valid envelope: flip, cut and splice bytes.
    fc.assert(
      fc.property(
        fc.nat(valid.length - 1),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(valid.length),
        (i, b, cut) => {
          const m = Buffer.from(valid);
          m[i] = b;
          check(m);
          check(m.subarray(0, cut));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("signs the documented bytes: domain prefix, newline, RFC 8785 JSON without sig", () => {
    const e = signEnvelope(
      { type: "t", from: "alice", seq: 1, ts: 2, body: { b: 1, a: [true, null, "x"] } },
      aliceSeed,
    );
    const expected =
      'gridlet/envelope/v1\n{"body":{"a":[true,null,"x"],"b":1},"from":"alice","seq":1,"ts":2,"type":"t","v":1}';
    assert.equal(toHex(ed.sign(new TextEncoder().encode(expected), aliceSeed)), e.sig);
  });
});
