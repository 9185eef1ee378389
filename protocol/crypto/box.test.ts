import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isProtocolError } from "../errors.js";
import { newBoxKeyPair, open, seal } from "./box.js";

describe("NaCl box bodies", () => {
  const alice = newBoxKeyPair();
  const bob = newBoxKeyPair();
  const eve = newBoxKeyPair();
  const msg = new TextEncoder().encode('{"fill":{"wh":1500,"price":210}}');

  it("the recipient opens what the sender sealed", () => {
    const sealed = seal(msg, bob.publicKey, alice);
    assert.deepEqual(open(sealed, bob, alice.publicKey), msg);
  });

  it("a third party cannot open it and a tampered ciphertext fails authentication", () => {
    const sealed = seal(msg, bob.publicKey, alice);
    assert.throws(
      () => open(sealed, eve),
      (e: unknown) => isProtocolError(e, "DECRYPT_FAILED"),
    );
    const ct = Buffer.from(sealed.ct, "base64");
    ct[3] ^= 0x40;
    assert.throws(
      () => open({ ...sealed, ct: ct.toString("base64") }, bob),
      (e: unknown) => isProtocolError(e, "DECRYPT_FAILED"),
    );
  });

  it("rejects a box from an unexpected sender and malformed fields", () => {
    const sealed = seal(msg, bob.publicKey, alice);
    assert.throws(
      () => open(sealed, bob, eve.publicKey),
      (e: unknown) => isProtocolError(e, "DECRYPT_FAILED"),
    );
    assert.throws(
      () => open({ ...sealed, nonce: "00" }, bob),
      (e: unknown) => isProtocolError(e, "MALFORMED"),
    );
  });
});
