import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromHex } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { decodeEnvelope, encodeEnvelope, scanEnvelopeSeq, signEnvelope } from "./envelope.js";
import { isProtocolError } from "./errors.js";
import { ENVELOPE_JSON, parseStrictJson } from "./strict-json.js";

const LOOSE = { maxDepth: 64, integersOnly: false };

function refused(input: Uint8Array | string, problem: string, opts = ENVELOPE_JSON): void {
  assert.throws(
    () => parseStrictJson(input, opts),
    (e: unknown) => {
      assert.ok(isProtocolError(e, "MALFORMED"), `expected MALFORMED, got ${String(e)}`);
      assert.equal(e.context.problem, problem, e.message);
      return true;
    },
  );
}

describe("strict JSON", () => {
  it("parses what JSON.parse parses, to the same value, for integer-only documents", () => {
    const integerJson = fc
      .jsonValue({ maxDepth: 6 })
      .map((v) =>
        JSON.parse(JSON.stringify(v), (_k, x) => (typeof x === "number" ? (Math.trunc(x) % 1e15) + 0 : x)),
      );
    fc.assert(
      fc.property(integerJson, fc.boolean(), (v, pretty) => {
        const text = JSON.stringify(v, null, pretty ? 2 : undefined);
        if (text.includes("__proto__")) return; // JSON.parse and object literals differ there; tested below
        assert.deepEqual(parseStrictJson(Buffer.from(text, "utf8"), { maxDepth: 8, integersOnly: true }), v);
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  it("any byte string gives a value or MALFORMED, never another error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          parseStrictJson(b);
        } catch (e) {
          assert.ok(isProtocolError(e, "MALFORMED"), String(e));
        }
      }),
      { numRuns: 2000, seed: 2 },
    );
  });

  it("refuses duplicate keys (JSON.parse keeps the last)", () => {
    const text = '{"seq":1,"body":{"importWh":5,"importWh":50000}}';
    assert.equal((JSON.parse(text) as { body: { importWh: number } }).body.importWh, 50_000);
    refused(text, "duplicate-key");
    refused('{"a":1,"a":1}', "duplicate-key");
    // equal after unescaping is the same key
    refused('{"a":1,"\\u0061":2}', "duplicate-key");
  });

  it("refuses -0 in every spelling, and keeps 0", () => {
    for (const t of ["-0", "[-0]", '{"x":-0}', "-0.0", "-0e3"]) refused(t, "negative-zero", LOOSE);
    refused('{"x":-0}', "negative-zero");
    assert.deepEqual(parseStrictJson('{"x":0,"y":-5}'), { x: 0, y: -5 });
  });

  it("refuses fractions, exponents and unsafe integers where integers are required", () => {
    refused('{"powerW":-2300.7}', "non-integer");
    refused('{"price":0.25}', "non-integer");
    refused('{"n":1e3}', "non-integer");
    refused('{"n":1.0}', "non-integer");
    refused('{"n":9007199254740992}', "unsafe-integer");
    refused('{"n":-9007199254740993}', "unsafe-integer");
    assert.deepEqual(parseStrictJson('{"n":9007199254740991,"m":-9007199254740991}'), {
      n: Number.MAX_SAFE_INTEGER,
      m: -Number.MAX_SAFE_INTEGER,
    });
    assert.deepEqual(parseStrictJson('{"x":231.4}', LOOSE), { x: 231.4 });
  });

  it("refuses invalid UTF-8 instead of replacing it with U+FFFD", () => {
    for (const hex of ["ff", "c0af", "eda080", "e282", "f8888080af"]) {
      const bytes = Buffer.concat([Buffer.from('{"meter":"'), Buffer.from(hex, "hex"), Buffer.from('"}')]);
      assert.match(Buffer.from(bytes).toString("utf8"), /\uFFFD/);
      refused(bytes, "utf8");
    }
    refused(fromHex("efbbbf7b7d")!, "syntax"); // a byte-order mark before the value
    assert.deepEqual(parseStrictJson(Buffer.from('{"m":"Zähler ⚡ 𝄞"}', "utf8")), { m: "Zähler ⚡ 𝄞" });
  });

  it("refuses lone surrogates, escaped or raw, and keeps pairs", () => {
    refused('{"m":"\\ud800"}', "surrogate");
    refused('{"m":"\\udc00x"}', "surrogate");
    refused('{"m":"a\\ud800\\u0041"}', "surrogate");
    refused('{"m":"\ud800"}', "surrogate");
    assert.deepEqual(parseStrictJson('{"m":"\\ud834\\udd1e"}'), { m: "𝄞" });
  });

  it("refuses nesting deeper than the limit without exhausting the stack", () => {
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    assert.deepEqual(parseStrictJson(deep(16)), JSON.parse(deep(16)));
    refused(deep(17), "depth");
    refused(`{"body":${deep(100_000)}}`, "depth");
    refused(
      '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{}}}}}}}}}}}}}}}}}',
      "depth",
    );
  });

  it("refuses what RFC 8259 refuses", () => {
    for (const t of [
      "",
      "{",
      '{"a":1,}',
      "[1,]",
      "'a'",
      '{"a":01}',
      "NaN",
      '"a\tb"',
      "tru",
      '{"a" 1}',
      "1 2",
      "+1",
    ])
      assert.throws(
        () => parseStrictJson(t),
        (e: unknown) => isProtocolError(e, "MALFORMED"),
        t,
      );
  });

  it('"__proto__" is an own property, as JSON.parse makes it', () => {
    const v = parseStrictJson('{"__proto__":{"x":1}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ["__proto__"]);
    assert.equal(canonicalJson(v), canonicalJson(JSON.parse('{"__proto__":{"x":1}}')));
  });
});

describe("envelope decoding is strict", () => {
  const seed = fromHex("11".repeat(32))!;
  const good = encodeEnvelope(
    signEnvelope({ type: "reading", from: "alice", seq: 77, ts: 1, body: { importWh: 5 } }, seed),
  ).toString();

  it("decodes a well-formed envelope", () => {
    assert.equal(decodeEnvelope(good).seq, 77);
  });

  it("a duplicate key, -0 or a float anywhere in the envelope is MALFORMED, and the seq is still found", () => {
    for (const bad of [
      good.replace('"importWh":5', '"importWh":5,"importWh":6'),
      good.replace('"importWh":5', '"importWh":-0'),
      good.replace('"importWh":5', '"importWh":5.5'),
      good.replace('"ts":1', '"ts":1,"ts":2'),
    ]) {
      assert.throws(
        () => decodeEnvelope(bad),
        (e: unknown) => isProtocolError(e, "MALFORMED"),
      );
      assert.equal(scanEnvelopeSeq(Buffer.from(bad)), 77);
    }
  });

  it("the seq scan gives up when the seq is ambiguous or absent", () => {
    assert.equal(scanEnvelopeSeq(good.replace('"seq":77', '"seq":77,"seq":78')), undefined);
    assert.equal(scanEnvelopeSeq("not json"), undefined);
    assert.equal(scanEnvelopeSeq(Buffer.from([0xff, 0xfe])), undefined);
  });
});
