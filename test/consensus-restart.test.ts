import assert from "node:assert/strict";
import { test } from "node:test";
import type { Message, PreparedCert, ViewChange, Vote } from "../aggregator/consensus/messages.js";
import { viewChangeBytes } from "../aggregator/consensus/messages.js";
import { Replica } from "../aggregator/consensus/replica.js";
import { DEFAULT_CONFIG, type Output, type VoteRecord } from "../aggregator/consensus/types.js";
import { blockHash, makeBlock, voteBytes } from "../aggregator/ledger/block.js";
import { KvMachine } from "../aggregator/ledger/kv-machine.js";
import { simSigner, simVerifier } from "../aggregator/ledger/signing.js";

/*
 * A member that restarts gets back, from its own disk, the votes it signed in slots not yet decided, and
 * must never sign anything contradicting them: that is what keeps a crash-restart from looking like an
 * equivocation to the others.
 */

const members = ["eag0", "eag1", "eag2", "eag3"];
const secrets = new Map(members.map((m) => [m, `s-${m}`]));
const verifier = simVerifier(secrets);
const signer = (id: string) => simSigner(id, secrets.get(id)!);

function replica(self: string, votes: VoteRecord[] = []) {
  const r = new Replica(
    { ...DEFAULT_CONFIG, members, self },
    { signer: signer(self), verifier, machine: new KvMachine() },
  );
  if (votes.length > 0) r.step({ type: "restore", votes }, 0);
  r.step({ type: "restart" }, 0);
  return r;
}

const votesTimer = { type: "timer", key: "votes" } as const;
const sent = (outs: Output[]): Message[] => outs.flatMap((o) => (o.type === "send" ? [o.msg] : []));
/** Votes go out in signed batches: the kinds of vote a list of messages carries from `from`. */
const votesIn = (msgs: Message[], from: string, kind: "prepare" | "commit") =>
  msgs.flatMap((m) => (m.t === "votes" && m.from === from ? m.votes.filter((v) => v.kind === kind) : []));

test("after a restart, no prepare for a different block in a slot and view already voted", () => {
  const other = makeBlock(
    { round: 0, index: 0, view: 0 },
    5,
    [{ id: "a", key: "k", add: 1 }],
    signer("eag0"),
  );
  const pp: Message = { t: "pp", from: "eag0", block: other };
  // Control: a member with no history prepares it.
  const control = replica("eag1");
  const fresh = sent([...control.step({ type: "message", msg: pp }, 1), ...control.step(votesTimer, 60)]);
  const inSlot0 = (msgs: Message[]) => votesIn(msgs, "eag1", "prepare").filter((v) => v.index === 0);
  assert.equal(inSlot0(fresh).length, 1);
  // With a persisted prepare for another block there, it stays silent.
  const restarted = replica("eag1", [{ seq: 0, kind: "prepare", view: 0, hash: "ab".repeat(32) }]);
  const outs = sent([...restarted.step({ type: "message", msg: pp }, 1), ...restarted.step(votesTimer, 60)]);
  assert.equal(inSlot0(outs).length, 0, "signed a second prepare in the same slot and view");
});

test("a leader that restarts does not propose again in a slot it proposed in", () => {
  const r = replica("eag2", [{ seq: 2, kind: "prepare", view: 0, hash: "cd".repeat(32) }]);
  const outs: Output[] = [];
  outs.push(...r.step({ type: "submit", tx: { id: "t", key: "k", add: 1 } }, 1));
  outs.push(...r.step({ type: "timer", key: "batch" }, 10));
  // round 0 is in flight (its slot 2 is ours, proposed before the restart): the batch waits for it a
  // tick, then starts round 1
  assert.equal(sent(outs).filter((m) => m.t === "pp").length, 0, "a round started with one in flight");
  outs.push(...r.step({ type: "timer", key: "pipeline" }, 10_000));
  const pps = sent(outs).filter((m) => m.t === "pp");
  assert.ok(pps.length > 0, "it proposed nothing at all");
  assert.ok(
    pps.every((m) => m.t === "pp" && m.block.header.round !== 0),
    "proposed twice in slot (0, 2)",
  );
});

test("a prepared certificate persisted with the commit vote survives into the view change", () => {
  const block = makeBlock(
    { round: 0, index: 0, view: 0 },
    5,
    [{ id: "p", key: "k", add: 2 }],
    signer("eag0"),
  );
  const hash = blockHash(block.header);
  const votes = ["eag0", "eag1", "eag2"].map((from) => ({
    from,
    sig: signer(from).sign(voteBytes("prepare", 0, 0, 0, hash)),
  }));
  const prepared: PreparedCert = { view: 0, block, votes };
  const r = replica("eag3", [{ seq: 0, kind: "commit", view: 0, hash, prepared }]);
  // Two others (f + 1) move slot (0, 0) to view 1: the member joins, carrying its certificate.
  let outs: Output[] = [];
  for (const from of ["eag1", "eag2"]) {
    const unsigned = { round: 0, index: 0, view: 1, prepared: null };
    const vc: ViewChange = { t: "vc", from, ...unsigned, sig: signer(from).sign(viewChangeBytes(unsigned)) };
    outs = outs.concat(r.step({ type: "message", msg: vc }, 1));
  }
  const own = sent(outs).find((m): m is ViewChange => m.t === "vc" && m.from === "eag3");
  assert.ok(own !== undefined, "did not join the view change");
  assert.equal(own.prepared?.view, 0);
  assert.equal(blockHash(own.prepared!.block.header), hash);
  // And the vote about to be sent was handed to the shell first.
  const i = outs.findIndex((o) => o.type === "vote" && o.record.kind === "vc");
  const j = outs.findIndex((o) => o.type === "send" && o.msg.t === "vc");
  assert.ok(i >= 0 && i < j, "the view change was sent before it was persisted");
});

test("every prepare and commit is handed to the shell before it is sent", () => {
  const r = replica("eag1");
  const block = makeBlock({ round: 0, index: 0, view: 0 }, 5, [], signer("eag0"));
  const hash = blockHash(block.header);
  const outs = r.step({ type: "message", msg: { t: "pp", from: "eag0", block } }, 1);
  for (const from of ["eag0", "eag2"]) {
    const v: Vote = {
      t: "prepare",
      from,
      round: 0,
      index: 0,
      view: 0,
      hash,
      sig: signer(from).sign(voteBytes("prepare", 0, 0, 0, hash)),
    };
    outs.push(...r.step({ type: "message", msg: v }, 2));
  }
  outs.push(...r.step(votesTimer, 60));
  for (const kind of ["prepare", "commit"] as const) {
    const i = outs.findIndex((o) => o.type === "vote" && o.record.kind === kind);
    const j = outs.findIndex(
      (o) => o.type === "send" && o.msg.t === "votes" && o.msg.votes.some((v) => v.kind === kind),
    );
    assert.ok(i >= 0 && j >= 0 && i < j, `${kind}: not persisted before sending`);
  }
});

test("a member restored in a view change re-sends that view change (the same signed statement)", () => {
  // eag3 had moved slot (0, 1) to view 1 and voted a prepare in slot (0, 2) before losing power
  const r = replica("eag3", [
    { seq: 1, kind: "vc", view: 1, hash: null, prepared: null },
    { seq: 2, kind: "prepare", view: 0, hash: "cd".repeat(32) },
  ]);
  // a peer's message of round 0 starts the round's slots and their timers
  const unsigned = { round: 0, index: 3, view: 1, prepared: null };
  const peerVc: ViewChange = {
    t: "vc",
    from: "eag1",
    ...unsigned,
    sig: signer("eag1").sign(viewChangeBytes(unsigned)),
  };
  let outs = r.step({ type: "message", msg: peerVc }, 1);
  for (const key of ["slot:0:1", "slot:0:2"]) outs = outs.concat(r.step({ type: "timer", key }, 100));
  const mine = sent(outs).filter((m) => m.from === "eag3");
  const vc = mine.find((m): m is ViewChange => m.t === "vc" && m.index === 1);
  assert.ok(vc, "its view change for slot (0, 1) went out again");
  assert.equal(vc.view, 1);
  assert.equal(vc.sig, signer("eag3").sign(viewChangeBytes({ round: 0, index: 1, view: 1, prepared: null })));
  const prepare = mine.find((m): m is Vote => m.t === "prepare" && m.index === 2);
  assert.ok(prepare, "its prepare in slot (0, 2) went out again");
  assert.equal(prepare.hash, "cd".repeat(32));
  // nothing new was signed, so nothing was handed to the shell to persist
  assert.ok(!outs.some((o) => o.type === "vote"));
});
