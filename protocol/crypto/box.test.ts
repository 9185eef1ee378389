import assert from "node:assert/strict";
import { describe, it } from "node:test";
import nacl from "tweetnacl";
import { isProtocolError } from "../errors.js";
import { boxKeyPairFromSecret, newBoxKeyPair, open, seal } from "./box.js";

describe("NaCl box bodies", () => {
  const alice = newBoxKeyPair();
  const bob = newBoxKeyPair();
  const eve = newBoxKeyPair();
  const msg = new TextEncoder().encode('{"fill":{"wh":1500,"price":210}}');

  it("a key pair from a secret is NaCl's own, clamping included", () => {
    for (let i = 0; i < 64; i++) {
      const secret = new Uint8Array(32).map((_, j) => (i * 37 + j * 101 + (i ^ j)) & 0xff);
      if (i === 0) secret.fill(0xff); // every bit the clamp clears or sets
      if (i === 1) secret.fill(0);
      const ours = boxKeyPairFromSecret(secret);
      const theirs = nacl.box.keyPair.fromSecretKey(secret);
      assert.deepEqual(ours.publicKey, theirs.publicKey, `secret ${i}`);
      assert.deepEqual(ours.secretKey, theirs.secretKey);
    }
    assert.throws(
      () => boxKeyPairFromSecret(new Uint8Array(31)),
      (e: unknown) => isProtocolError(e, "MALFORMED") && /32 bytes, not 31/.test(e.message),
    );
  });

  it("boxes are NaCl's own bytes, also when the shared key is reused", () => {
    for (let i = 0; i < 3; i++)
      for (const to of [bob, eve]) {
        const nonce = new Uint8Array(24).fill(i + 1);
        const sealed = seal(msg, to.publicKey, alice, () => nonce);
        const theirs = nacl.box(msg, nonce, to.publicKey, alice.secretKey);
        assert.equal(
          sealed.ct,
          Buffer.from(theirs).toString("base64"),
          `box ${i} to ${to === bob ? "bob" : "eve"}`,
        );
        assert.deepEqual(open(sealed, to, alice.publicKey), msg);
        // and what NaCl sealed, open() opens
        const back = nacl.box(msg, nonce, alice.publicKey, to.secretKey);
        const fromTo = {
          from: Buffer.from(to.publicKey).toString("hex"),
          nonce: sealed.nonce,
          ct: Buffer.from(back).toString("base64"),
        };
        assert.deepEqual(open(fromTo, alice), msg);
      }
    assert.throws(
      () => seal(msg, new Uint8Array(31), alice),
      (e: unknown) => isProtocolError(e, "MALFORMED") && /32 bytes, not 31/.test(e.message),
    );
  });

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
