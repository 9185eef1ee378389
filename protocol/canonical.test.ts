import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalJson, signingBytes } from "./canonical.js";
import { isProtocolError } from "./errors.js";

describe("RFC 8785 canonical JSON", () => {
  it("sorts keys by UTF-16 code units, drops whitespace and writes numbers in ECMAScript form", () => {
    // Key order and number forms from RFC 8785 section 3.2.3's sorting example and 3.2.2.3.
    assert.equal(
      canonicalJson({
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "1": "One",
        "\u0080": "Control",
        a: [1e21, 0.1, -0],
      }),
      '{"\\r":"Carriage Return","1":"One","a":[1e+21,0.1,0],"\u0080":"Control","\u20ac":"Euro Sign"}',
    );
  });

  it("prefixes the domain and a newline", () => {
    assert.equal(Buffer.from(signingBytes("d/v1", { b: 1, a: null })).toString(), 'd/v1\n{"a":null,"b":1}');
  });

  it("refuses values without a JSON form, naming where they are", () => {
    for (const [value, where] of [
      [{ a: { b: Number.NaN } }, "$.a.b"],
      [{ a: [1, undefined] }, "$.a[1]"],
      [{ x: undefined }, "$.x"],
      [{ f: () => 1 }, "$.f"],
      [{ n: 10n }, "$.n"],
    ] as const) {
      assert.throws(
        () => canonicalJson(value),
        (e: unknown) => isProtocolError(e, "MALFORMED") && e.message.startsWith(where),
        where,
      );
    }
  });
});
