import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { sha256Hex } from "../../protocol/hash.js";
import { EMPTY_MERKLE_ROOT, leafHash, merkleProof, merkleRoot, verifyMerkleProof } from "./merkle.js";

test("the empty root and a single leaf follow the documented hashing", () => {
  assert.equal(EMPTY_MERKLE_ROOT, sha256Hex(new Uint8Array([2])));
  const tx = { id: "a", n: 1 };
  assert.equal(
    merkleRoot([tx]),
    sha256Hex(Buffer.concat([Buffer.from([0]), Buffer.from('{"id":"a","n":1}')])),
  );
  assert.equal(Buffer.from(leafHash(tx)).toString("hex"), merkleRoot([tx]));
});

test("an odd node is carried up, so a duplicated last transaction changes the root", () => {
  const txs = [1, 2, 3];
  assert.notEqual(merkleRoot(txs), merkleRoot([1, 2, 3, 3]));
});

test("a leaf cannot pose as an inner node: two leaves' concatenation is not a leaf", () => {
  const l = Buffer.from(leafHash(1));
  const r = Buffer.from(leafHash(2));
  const inner = sha256Hex(Buffer.concat([Buffer.from([1]), l, r]));
  assert.equal(merkleRoot([1, 2]), inner);
  assert.notEqual(merkleRoot([Buffer.concat([l, r]).toString("hex")]), inner);
});

test("inclusion proofs verify for every position and fail for another transaction", () => {
  fc.assert(
    fc.property(fc.array(fc.integer(), { minLength: 1, maxLength: 40 }), fc.nat(), (txs, k) => {
      const i = k % txs.length;
      const root = merkleRoot(txs);
      const proof = merkleProof(txs, i);
      assert.ok(verifyMerkleProof(txs[i], proof, root));
      assert.ok(!verifyMerkleProof({ other: txs[i] }, proof, root));
    }),
  );
});
