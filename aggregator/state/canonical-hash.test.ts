import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hashJson } from "../../protocol/hash.js";
import { hashCanonical } from "./canonical-hash.js";

describe("streamed canonical hash", () => {
  it("equals hashJson (RFC 8785) on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.equal(hashCanonical(v), hashJson(v));
      }),
      { numRuns: 1000 },
    );
  });

  it("equals hashJson on values larger than its buffer, with unicode keys in code-unit order", () => {
    const big = {
      é: 1,
      e: 2,
      "\u{1F600}": 3,
      ﬀ: 4,
      list: Array.from({ length: 20_000 }, (_, i) => ({ z: i, a: `v${i}`, m: [i, -i, i / 7] })),
    };
    assert.equal(hashCanonical(big), hashJson(big));
  });

  it("rejects values JSON cannot carry", () => {
    assert.throws(() => hashCanonical({ a: Number.NaN }), /non-finite/);
    assert.throws(() => hashCanonical({ a: undefined }), /undefined/);
  });
});
