import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { signingBytes } from "../../protocol/canonical.js";
import { sha256Hex } from "../../protocol/hash.js";
import {
  BLOCK_DOMAIN,
  blockHash,
  checkBlock,
  checkCertificate,
  headerBytes,
  LINK_DOMAIN,
  linkHash,
  makeBlock,
  VOTE_DOMAIN,
  voteBytes,
} from "./block.js";
import { isLedgerError } from "./errors.js";
import { simSigner, simVerifier } from "./signing.js";
import { batchSigningBytes, VOTE_BATCH_DOMAIN } from "./vote-batch.js";

const secrets = new Map([
  ["a", "sa"],
  ["b", "sb"],
  ["c", "sc"],
  ["d", "sd"],
]);
const verifier = simVerifier(secrets);
const signer = (id: string) => simSigner(id, secrets.get(id)!);

test("the fast header and vote encodings equal RFC 8785 signing bytes", () => {
  fc.assert(
    fc.property(
      fc.record({
        round: fc.nat(),
        index: fc.nat(60),
        view: fc.nat(9),
        proposer: fc.string(),
        time: fc.nat(),
        txRoot: fc.string(),
        txCount: fc.nat(),
      }),
      (h) => {
        const header = { v: 1 as const, ...h };
        assert.deepEqual(Buffer.from(headerBytes(header)), Buffer.from(signingBytes(BLOCK_DOMAIN, header)));
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.nat(),
      fc.nat(),
      fc.nat(),
      fc.stringMatching(/^[0-9a-f]{64}$/),
      (round, index, view, hash) => {
        for (const kind of ["prepare", "commit"] as const) {
          assert.deepEqual(
            Buffer.from(voteBytes(kind, round, index, view, hash)),
            Buffer.from(signingBytes(VOTE_DOMAIN, { kind, round, index, view, block: hash })),
          );
        }
      },
    ),
  );
  // the ledger's links and vote batches: hex of any case or length, and non-integer positions, take JCS
  const hexish = fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.stringMatching(/^[0-9a-fA-F]{0,66}$/));
  fc.assert(
    fc.property(fc.oneof(fc.nat(), fc.double()), hexish, hexish, (seq, prev, hash) => {
      fc.pre(Number.isFinite(seq));
      assert.equal(
        linkHash(seq, prev, hash),
        sha256Hex(signingBytes(LINK_DOMAIN, { seq, prev, block: hash })),
      );
    }),
  );
  fc.assert(
    fc.property(hexish, (root) => {
      assert.deepEqual(
        Buffer.from(batchSigningBytes(root)),
        Buffer.from(signingBytes(VOTE_BATCH_DOMAIN, { root })),
      );
    }),
  );
});

test("checkBlock accepts a signed block and names what is wrong with a bad one", () => {
  const b = makeBlock({ round: 2, index: 1, view: 0 }, 1000, [{ x: 1 }, { x: 2 }], signer("b"));
  assert.equal(checkBlock(b, verifier), blockHash(b.header));
  const cases: [unknown, string][] = [
    [{ ...b, txs: [{ x: 1 }] }, "BAD_MERKLE_ROOT"],
    [{ ...b, sig: signer("a").sign(headerBytes(b.header)) }, "BAD_PROPOSER_SIGNATURE"],
    [{ ...b, header: { ...b.header, extra: 1 } }, "MALFORMED_BLOCK"],
    [{ ...b, header: { ...b.header, round: -1 } }, "MALFORMED_BLOCK"],
    [null, "MALFORMED_BLOCK"],
  ];
  for (const [bad, code] of cases) {
    assert.throws(
      () => checkBlock(bad as typeof b, verifier),
      (e) => isLedgerError(e, code as never),
    );
  }
});

test("a certificate needs 2f+1 distinct members' valid commit signatures", () => {
  const b = makeBlock({ round: 0, index: 0, view: 0 }, 1, [], signer("a"));
  const hash = blockHash(b.header);
  const vote = (id: string) => ({ from: id, sig: signer(id).sign(voteBytes("commit", 0, 0, 0, hash)) });
  const members = new Set(secrets.keys());
  checkCertificate(b.header, hash, { view: 0, votes: ["a", "b", "c"].map(vote) }, members, 3, verifier);
  const bad: [unknown, string][] = [
    [{ view: 0, votes: ["a", "b"].map(vote) }, "BAD_CERTIFICATE"],
    [{ view: 0, votes: ["a", "a", "b"].map(vote) }, "BAD_CERTIFICATE"],
    [{ view: 1, votes: ["a", "b", "c"].map(vote) }, "BAD_CERTIFICATE"],
    [{ view: 0, votes: [...["a", "b"].map(vote), { from: "z", sig: "00" }] }, "UNKNOWN_SIGNER"],
  ];
  for (const [qc, code] of bad) {
    assert.throws(
      () => checkCertificate(b.header, hash, qc as never, members, 3, verifier),
      (e) => isLedgerError(e, code as never),
    );
  }
});
