import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHash, makeBlock } from "../ledger/block.js";
import { KvMachine } from "../ledger/kv-machine.js";
import { simSigner, simVerifier } from "../ledger/signing.js";
import { batchRoot, batchSigningBytes, voteLeaf } from "../ledger/vote-batch.js";
import type { Message } from "./messages.js";
import { Replica } from "./replica.js";
import { DEFAULT_CONFIG, type Output } from "./types.js";

const members = ["eag0", "eag1", "eag2", "eag3"];
const secrets = new Map(members.map((m) => [m, `s-${m}`]));

/** The rounds of the proposals a step sent. */
const proposedRounds = (outs: Output[]): number[] =>
  outs.flatMap((o) =>
    o.type === "send" && o.msg.t === "pp" ? [(o.msg as Message & { t: "pp" }).block.header.round] : [],
  );

test("at light load one round at a time: a batch waits a tick for the round in flight, a full one does not", () => {
  const r = new Replica(
    { ...DEFAULT_CONFIG, members, self: "eag0", maxBatch: 4 },
    {
      signer: simSigner("eag0", secrets.get("eag0")!),
      verifier: simVerifier(secrets),
      machine: new KvMachine(),
    },
  );
  r.step({ type: "restart" }, 0);
  const tx = (id: string) => ({ id, key: "k", add: 1 });

  // no round in flight: the batch starts round 0 at once
  r.step({ type: "submit", tx: tx("a") }, 1);
  assert.deepEqual(proposedRounds(r.step({ type: "timer", key: "batch" }, 10)), [0]);

  // round 0 in flight (nobody else has voted): the next batch waits, and a timer is set for a tick later
  r.step({ type: "submit", tx: tx("b") }, 20);
  const waited = r.step({ type: "timer", key: "batch" }, 30);
  assert.deepEqual(proposedRounds(waited), [], "a second round started at light load");
  const timer = waited.find((o) => o.type === "timer" && o.key === "pipeline");
  assert.ok(timer !== undefined && timer.type === "timer");
  assert.equal(timer.delayMs, DEFAULT_CONFIG.slotTimeoutMs, "it waits one tick");
  // after the tick, it starts round 1 anyway (the nudge for a round others may not have heard of)
  assert.deepEqual(proposedRounds(r.step({ type: "timer", key: "pipeline" }, 30 + timer.delayMs)), [1]);

  // a full batch (maxBatch) does not wait: rounds overlap under backlog
  const outs: Output[] = [];
  for (const id of ["c", "d", "e", "f"]) outs.push(...r.step({ type: "submit", tx: tx(id) }, 600));
  assert.deepEqual(proposedRounds(outs), [2], "a full batch waited for the rounds in flight");
});

test("a prepare batch that brings a slot nothing it lacks is not signature-checked; a commit batch is", () => {
  const seven = ["eag0", "eag1", "eag2", "eag3", "eag4", "eag5", "eag6"];
  const keys = new Map(seven.map((m) => [m, `s-${m}`]));
  const signer = (m: string) => simSigner(m, keys.get(m)!);
  const inner = simVerifier(keys);
  let checks = 0;
  const r = new Replica(
    { ...DEFAULT_CONFIG, members: seven, self: "eag0" },
    {
      signer: signer("eag0"),
      verifier: {
        verify: (m, b, s) => {
          checks++;
          return inner.verify(m, b, s);
        },
      },
      machine: new KvMachine(),
    },
  );
  r.step({ type: "restart" }, 0);
  const block = makeBlock({ round: 0, index: 1, view: 0 }, 5, [], signer("eag1"));
  const hash = blockHash(block.header);
  const batch = (from: string, kind: "prepare" | "commit"): Message => {
    const votes = [{ kind, round: 0, index: 1, view: 0, hash }];
    const root = batchRoot(votes.map((v) => voteLeaf(v.kind, v.round, v.index, v.view, v.hash)));
    return { t: "votes", from, votes, sig: signer(from).sign(batchSigningBytes(root)) };
  };
  r.step({ type: "message", msg: { t: "pp", from: "eag1", block } }, 10);
  // with our own, four peers' prepares make 2f + 1 = 5: the slot is prepared and we commit
  for (const m of ["eag2", "eag3", "eag4", "eag5"]) r.step({ type: "message", msg: batch(m, "prepare") }, 20);
  // the rest of the round has no proposals: our batch goes when its timer runs
  const sent = r.step({ type: "timer", key: "votes" }, 25);
  const ours = sent.some(
    (o) => o.type === "send" && o.msg.t === "votes" && o.msg.votes.some((v) => v.kind === "commit"),
  );
  assert.ok(ours, "no commit after 2f + 1 prepares");
  const before = checks;
  r.step({ type: "message", msg: batch("eag6", "prepare") }, 30);
  assert.equal(checks, before, "a prepare batch the slot no longer needs was checked");
  r.step({ type: "message", msg: batch("eag6", "commit") }, 30);
  assert.equal(checks, before + 1, "a commit batch it needs was not checked");
});
