import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { blockHash, checkCertificate, makeBlock } from "./block.js";
import { isLedgerError } from "./errors.js";
import { cachingVerifier, countingVerifier, simSigner, simVerifier } from "./signing.js";
import {
  batchLevels,
  batchProof,
  batchRoot,
  batchSigningBytes,
  checkCertVote,
  rootFromProof,
  voteLeaf,
  voteText,
} from "./vote-batch.js";

const secrets = new Map(["a", "b", "c", "d"].map((m) => [m, `s${m}`]));
const verifier = simVerifier(secrets);
const signer = (id: string) => simSigner(id, secrets.get(id)!);
const H = (n: number) => n.toString(16).padStart(64, "0");

test("a vote's leaf hashes 0x00 and the JCS text its single-vote signature covers", () => {
  const text = voteText("commit", 3, 1, 0, H(7));
  assert.equal(text, `{"block":"${H(7)}","index":1,"kind":"commit","round":3,"view":0}`);
  const expected = createHash("sha256")
    .update(Buffer.concat([Buffer.from([0]), Buffer.from(text)]))
    .digest();
  assert.deepEqual(Buffer.from(voteLeaf("commit", 3, 1, 0, H(7))), expected);
  // a vote of another shape falls back to JCS, non-ASCII included: still 0x00 and its UTF-8 text
  const odd = voteText("commït" as "commit", 3, 1, 0, "é");
  assert.match(odd, /"kind":"commït"/);
  assert.deepEqual(
    Buffer.from(voteLeaf("commït" as "commit", 3, 1, 0, "é")),
    createHash("sha256")
      .update(Buffer.concat([Buffer.from([0]), Buffer.from(odd, "utf8")]))
      .digest(),
  );
});

test("every leaf's proof leads to the batch root, for every batch size; a changed vote does not", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), (size) => {
      const leaves = Array.from({ length: size }, (_, i) => voteLeaf("prepare", 0, i % 7, 0, H(i)));
      const levels = batchLevels(leaves);
      const root = batchRoot(leaves);
      for (let at = 0; at < size; at++) {
        const p = batchProof(levels, at);
        assert.equal(rootFromProof(leaves[at], p), root);
        assert.notEqual(rootFromProof(voteLeaf("commit", 0, at % 7, 0, H(at)), p), root);
        if (size > 1) assert.notEqual(rootFromProof(leaves[at], { ...p, at: (at + 1) % size }), root);
      }
    }),
  );
});

test("a malformed proof leads nowhere", () => {
  const leaves = [0, 1, 2].map((i) => voteLeaf("prepare", 0, i, 0, H(i)));
  const p = batchProof(batchLevels(leaves), 2);
  assert.equal(rootFromProof(leaves[2], { ...p, path: [...p.path, H(1)] }), undefined, "a sibling too many");
  assert.equal(rootFromProof(leaves[2], { ...p, path: [] }), undefined, "a sibling too few");
  assert.equal(rootFromProof(leaves[2], { ...p, at: 3 }), undefined, "outside the batch");
  assert.equal(rootFromProof(leaves[2], { ...p, path: ["zz"] }), undefined, "not a hash");
});

test("a certificate may mix votes signed alone and votes out of batches", () => {
  const block = makeBlock({ round: 2, index: 1, view: 0 }, 9, [], signer("b"));
  const hash = blockHash(block.header);
  const batchVote = (from: string, at: number) => {
    // the member's batch: other slots' votes around this one
    const votes = Array.from({ length: 5 }, (_, i) =>
      i === at ? voteLeaf("commit", 2, 1, 0, hash) : voteLeaf("prepare", 3, i, 0, H(i)),
    );
    const sig = signer(from).sign(batchSigningBytes(batchRoot(votes)));
    return { from, sig, batch: batchProof(batchLevels(votes), at) };
  };
  const alone = {
    from: "c",
    sig: signer("c").sign(Buffer.from(`gridlet/vote/v1\n${voteText("commit", 2, 1, 0, hash)}`)),
  };
  const qc = { view: 0, votes: [batchVote("a", 0), batchVote("b", 4), alone] };
  checkCertificate(block.header, hash, qc, new Set(secrets.keys()), 3, verifier);
  assert.equal(checkCertVote(qc.votes[0], "prepare", 2, 1, 0, hash, verifier), false, "another kind");
  // a batch signature moved to another member fails
  const stolen = { view: 0, votes: [{ ...batchVote("a", 0), from: "d" }, batchVote("b", 4), alone] };
  assert.throws(
    () => checkCertificate(block.header, hash, stolen, new Set(secrets.keys()), 3, verifier),
    (e) => isLedgerError(e) && e.code === "BAD_CERTIFICATE",
  );
});

test("the caching verifier checks a signature once, and never remembers a failure", () => {
  let checks = 0;
  const v = cachingVerifier(
    countingVerifier(verifier, () => checks++),
    2,
  );
  const bytes = batchSigningBytes(H(1));
  const sig = signer("a").sign(bytes);
  assert.equal(v.verify("a", bytes, sig), true);
  assert.equal(v.verify("a", bytes, sig), true);
  assert.equal(checks, 1);
  assert.equal(v.verify("a", batchSigningBytes(H(2)), sig), false, "same signature, other bytes");
  assert.equal(v.verify("b", bytes, sig), false, "same signature, other member");
  assert.equal(v.verify("a", batchSigningBytes(H(2)), sig), false);
  assert.equal(checks, 4);
  // bounded: the oldest entries go
  for (const n of [3, 4]) v.verify("a", batchSigningBytes(H(n)), signer("a").sign(batchSigningBytes(H(n))));
  assert.equal(v.verify("a", bytes, sig), true);
  assert.equal(checks, 7);
});
