import assert from "node:assert/strict";
import { test } from "node:test";
import { KvMachine } from "../ledger/kv-machine.js";
import { simSigner, simVerifier } from "../ledger/signing.js";
import { batchLevels, batchProof, batchSigningBytes, levelsRoot } from "../ledger/vote-batch.js";
import {
  type BatchedViewChange,
  type ViewChange,
  type ViewChangeBatch,
  viewChangeBatchBytes,
  viewChangeLeaf,
} from "./messages.js";
import { Replica } from "./replica.js";
import { DEFAULT_CONFIG } from "./types.js";
import { checkViewChange, viewChangeSigned } from "./viewchange.js";

const secrets = new Map(["a", "b", "c", "d"].map((id) => [id, `secret-${id}`]));
const member = { members: ["a", "b", "c", "d"], quorum: 3, verifier: simVerifier(secrets) };

/** Three view changes of member `a`, signed as one batch under `bytes` (the view-change batch domain). */
function batch(bytes = viewChangeBatchBytes): ViewChange[] {
  const vcs = [0, 1, 2].map((round) => ({ round, index: 0, view: 1, prepared: null }));
  const levels = batchLevels(vcs.map(viewChangeLeaf));
  const root = levelsRoot(levels);
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

test("a replica refuses a view-change batch that is too large, empty, forged or from a non-member", () => {
  const members = ["a", "b", "c", "d"];
  const r = new Replica(
    { ...DEFAULT_CONFIG, members, self: "a" },
    { signer: simSigner("a", secrets.get("a")!), verifier: member.verifier, machine: new KvMachine() },
  );
  r.step({ type: "restart" }, 0);
  const signedBatch = (from: string, vcs: BatchedViewChange[]): ViewChangeBatch => {
    const root = levelsRoot(batchLevels(vcs.map(viewChangeLeaf)));
    return { t: "vcs", from, vcs, sig: simSigner(from, secrets.get(from)!).sign(viewChangeBatchBytes(root)) };
  };
  const reasons = (msg: ViewChangeBatch) =>
    r.step({ type: "message", msg }, 1).flatMap((o) => (o.type === "rejected" ? [o.reason] : []));
  const vc = (round: number, index: number): BatchedViewChange => ({ round, index, view: 1, prepared: null });
  // a window's slots at most: DEFAULT_CONFIG.window rounds of 4
  const tooMany = Array.from({ length: DEFAULT_CONFIG.window * 4 + 1 }, (_, i) => vc(i >> 2, i % 4));
  assert.deepEqual(reasons(signedBatch("b", tooMany)), ["view-change batch empty or too large"]);
  assert.deepEqual(reasons({ t: "vcs", from: "b", vcs: [], sig: "00" }), [
    "view-change batch empty or too large",
  ]);
  assert.deepEqual(reasons({ ...signedBatch("b", [vc(0, 1), vc(0, 2)]), from: "c" }), [
    "bad view-change batch signature",
  ]);
  assert.deepEqual(reasons({ ...signedBatch("b", [vc(0, 1)]), from: "x" }), [
    "view-change batch from a non-member",
  ]);
  assert.deepEqual(reasons(signedBatch("b", [vc(0, 1), vc(0, 2)])), [], "a sound batch is taken");
});
