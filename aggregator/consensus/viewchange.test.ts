import assert from "node:assert/strict";
import { test } from "node:test";
import { simSigner, simVerifier } from "../ledger/signing.js";
import { batchLevels, batchProof, batchSigningBytes } from "../ledger/vote-batch.js";
import { type ViewChange, viewChangeBatchBytes, viewChangeLeaf } from "./messages.js";
import { checkViewChange, viewChangeSigned } from "./viewchange.js";

const secrets = new Map(["a", "b", "c", "d"].map((id) => [id, `secret-${id}`]));
const member = { members: ["a", "b", "c", "d"], quorum: 3, verifier: simVerifier(secrets) };

/** Three view changes of member `a`, signed as one batch under `bytes` (the view-change batch domain). */
function batch(bytes = viewChangeBatchBytes): ViewChange[] {
  const vcs = [0, 1, 2].map((round) => ({ round, index: 0, view: 1, prepared: null }));
  const levels = batchLevels(vcs.map(viewChangeLeaf));
  const root = Buffer.from(levels[levels.length - 1][0]).toString("hex");
  const sig = simSigner("a", secrets.get("a")!).sign(bytes(root));
  return vcs.map((v, at) => ({ t: "vc", from: "a", ...v, sig, batch: batchProof(levels, at) }));
}

test("a view change taken out of its batch checks by its proof; changed, moved or misattributed it does not", () => {
  const vcs = batch();
  for (const vc of vcs) assert.equal(checkViewChange(vc, member), undefined);
  assert.equal(checkViewChange({ ...vcs[1], view: 2 }, member), "bad view-change signature");
  assert.equal(checkViewChange({ ...vcs[1], round: 0 }, member), "bad view-change signature");
  assert.equal(checkViewChange({ ...vcs[1], from: "b" }, member), "bad view-change signature");
  assert.equal(
    checkViewChange({ ...vcs[1], batch: { ...vcs[1].batch!, at: 0 } }, member),
    "bad view-change signature",
  );
  // a prepared certificate without a block is not JSON the signer could have signed: refused, not thrown
  const broken = { ...vcs[0], prepared: { view: 0 } } as unknown as ViewChange;
  assert.equal(viewChangeSigned(broken, member.verifier), false);
});

test("a vote-batch signature over the same root does not pass for a view-change batch", () => {
  for (const vc of batch(batchSigningBytes))
    assert.equal(checkViewChange(vc, member), "bad view-change signature");
});
