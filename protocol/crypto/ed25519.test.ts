import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromHex, toHex } from "../bytes.js";
import { type Ed25519, NobleEd25519, NodeEd25519, TweetnaclEd25519 } from "./index.js";

// RFC 8032 section 7.1, TEST 1, 2 and 3 (secret key, public key, message, signature).
const VECTORS = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    msg: "",
    sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    msg: "72",
    sig: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    pub: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    msg: "af82",
    sig: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

const impls: Ed25519[] = [new NodeEd25519(), new NobleEd25519(), new TweetnaclEd25519()];

describe("ed25519 implementations", () => {
  for (const impl of impls) {
    it(`${impl.name} reproduces the RFC 8032 vectors`, () => {
      for (const v of VECTORS) {
        const seed = fromHex(v.seed)!;
        const msg = fromHex(v.msg)!;
        assert.equal(toHex(impl.publicKey(seed)), v.pub);
        assert.equal(toHex(impl.sign(msg, seed)), v.sig);
        assert.equal(impl.verify(fromHex(v.sig)!, msg, fromHex(v.pub)!), true);
      }
    });
  }

  it("all implementations sign identically and accept each other's signatures", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        (seed, msg) => {
          const sigs = impls.map((i) => toHex(i.sign(msg, seed)));
          assert.equal(new Set(sigs).size, 1);
          const pub = impls[0].publicKey(seed);
          const sig = fromHex(sigs[0])!;
          for (const verifier of impls) assert.equal(verifier.verify(sig, msg, pub), true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("all implementations reject a flipped bit, a wrong key and malformed lengths", () => {
    const v = VECTORS[2];
    const seed = fromHex(v.seed)!;
    const msg = fromHex(v.msg)!;
    const sig = fromHex(v.sig)!;
    const other = impls[0].publicKey(fromHex(VECTORS[0].seed)!);
    for (const impl of impls) {
      for (let bit = 0; bit < 512; bit += 37) {
        const bad = sig.slice();
        bad[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(impl.verify(bad, msg, impl.publicKey(seed)), false, `${impl.name} bit ${bit}`);
      }
      assert.equal(impl.verify(sig, msg, other), false);
      assert.equal(impl.verify(sig.subarray(0, 63), msg, impl.publicKey(seed)), false);
      assert.equal(impl.verify(sig, msg, new Uint8Array(31)), false);
    }
  });
});
