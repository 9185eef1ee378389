import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { sha256, sha256Hex } from "./hash.js";

test("sha256 and sha256Hex give SHA-256: the FIPS 180-2 vector, and createHash's digest of any input", () => {
  const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(sha256Hex("abc"), abc);
  assert.equal(Buffer.from(sha256("abc")).toString("hex"), abc);
  const reference = (d: Uint8Array | string) => createHash("sha256").update(d).digest("hex");
  for (let n = 0; n < 300; n += 7) {
    const d = new Uint8Array(randomBytes(n));
    assert.equal(Buffer.from(sha256(d)).toString("hex"), reference(d));
    assert.equal(sha256Hex(d), reference(d));
  }
  // strings are hashed as UTF-8, bytes above 0x7f included
  const s = "héllo ✓ \u{1F600}";
  assert.equal(Buffer.from(sha256(s)).toString("hex"), reference(s));
  const digest = sha256(new Uint8Array([0xff, 0x00, 0x80]));
  assert.equal(digest.constructor, Uint8Array);
  assert.equal(digest.length, 32);
});
