import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHash, makeBlock, voteBytes } from "../ledger/block.js";
import { KvMachine } from "../ledger/kv-machine.js";
import { simSigner, simVerifier } from "../ledger/signing.js";
import type { Message } from "./messages.js";
import { slotTimeoutFor } from "./pace.js";
import { Replica, SPARED_TICKS } from "./replica.js";
import { DEFAULT_CONFIG, type Output } from "./types.js";

/*
 * A slot that moves slowly is not a slot that failed (replica.ts, onTimer): a tick in which the slot took
 * votes from f + 1 peers does not count towards giving up its view, a bounded number of times a view. Seven
 * members (f = 2, quorum 5); eag0 is the replica under test, slot (0, 1) is led by eag1.
 */
const members = ["eag0", "eag1", "eag2", "eag3", "eag4", "eag5", "eag6"];
const secrets = new Map(members.map((m) => [m, `s-${m}`]));
const signers = new Map(members.map((m) => [m, simSigner(m, secrets.get(m)!)]));
const TIMER = "slot:0:1";

function replica(): Replica {
  const r = new Replica(
    { ...DEFAULT_CONFIG, members, self: "eag0" },
    { signer: signers.get("eag0")!, verifier: simVerifier(secrets), machine: new KvMachine() },
  );
  r.step({ type: "restart" }, 0);
  return r;
}

/** The proposal of slot (0, index) by its leader. */
function proposal(index = 1): { msg: Message; hash: string } {
  const leader = members[index];
  const block = makeBlock({ round: 0, index, view: 0 }, 5, [], signers.get(leader)!);
  return { msg: { t: "pp", from: leader, block }, hash: blockHash(block.header) };
}

function vote(kind: "prepare" | "commit", from: string, hash: string, index = 1): Message {
  const sig = signers.get(from)!.sign(voteBytes(kind, 0, index, 0, hash));
  return { t: kind, from, round: 0, index, view: 0, hash, sig };
}

const viewChanged = (outs: Output[]) =>
  outs.some((o) => o.type === "send" && (o.msg.t === "vc" || o.msg.t === "vcs"));

/**
 * Fires the slot's timer once a tick for `ticks` ticks, delivering before each tick the messages
 * `during(tick)` gives; returns the tick at which eag0 gave up view 0, or undefined.
 */
function tickUntilViewChange(
  r: Replica,
  ticks: number,
  during: (tick: number) => Message[],
): number | undefined {
  let now = 10;
  for (let tick = 1; tick <= ticks; tick++) {
    for (const msg of during(tick)) r.step({ type: "message", msg }, now);
    now += DEFAULT_CONFIG.slotTimeoutMs;
    if (viewChanged(r.step({ type: "timer", key: TIMER }, now))) return tick;
  }
  return undefined;
}

test("a slot that hears no one gives up its view after two ticks", () => {
  const r = replica();
  const { msg } = proposal();
  r.step({ type: "message", msg }, 10);
  assert.equal(
    tickUntilViewChange(r, 10, () => []),
    2,
  );
});

test("ticks with votes from f + 1 peers do not count: a slow slot keeps its view", () => {
  const r = replica();
  const { msg, hash } = proposal();
  r.step({ type: "message", msg }, 10);
  // tick 1: prepares from three peers (with ours, four: no quorum yet); tick 2: their commits; then silence
  const at = tickUntilViewChange(r, 10, (tick) =>
    tick === 1
      ? ["eag2", "eag3", "eag4"].map((m) => vote("prepare", m, hash))
      : tick === 2
        ? ["eag2", "eag3", "eag4"].map((m) => vote("commit", m, hash))
        : [],
  );
  assert.equal(at, 4, "two ticks let off, then the two ticks of patience");
  // the same when the votes are for another slot of the round: the round moves, and this slot has its
  // proposal
  const r2 = replica();
  r2.step({ type: "message", msg }, 10);
  const other = "cd".repeat(32);
  const at2 = tickUntilViewChange(r2, 10, (tick) =>
    tick <= 2
      ? ["eag2", "eag3", "eag4"].map((m) => vote(tick === 1 ? "prepare" : "commit", m, other, 2))
      : [],
  );
  assert.equal(at2, 4, "votes elsewhere in the round let a slot with its proposal off too");
});

test("votes from only f peers a tick do not hold the view, nor does a round that moves without the slot", () => {
  const few = replica();
  const pp = proposal();
  few.step({ type: "message", msg: pp.msg }, 10);
  const fewAt = tickUntilViewChange(few, 10, (tick) =>
    tick === 1 ? ["eag2", "eag3"].map((m) => vote("prepare", m, pp.hash)) : [],
  );
  assert.equal(fewAt, 2, "f voters (possibly all faulty) are no sign of a live slot");
  // the leader of slot (0, 1) is gone: nobody has its proposal, while peers vote on slot (0, 2) of the round
  const orphan = replica();
  const other = proposal(2);
  orphan.step({ type: "message", msg: other.msg }, 10);
  const at = tickUntilViewChange(orphan, 10, (tick) =>
    tick <= 2
      ? ["eag2", "eag3", "eag4"].map((m) => vote(tick === 1 ? "prepare" : "commit", m, other.hash, 2))
      : [],
  );
  assert.equal(at, 2, "a slot without its proposal and without votes times out as before");
});

test("an orphan slot (its round moved on, nobody votes in it) gives up its view at its first tick, late or not", () => {
  const tick = DEFAULT_CONFIG.slotTimeoutMs;
  const roundMovedOn = () => {
    const r = replica();
    // 5 of the round's 7 slots are decided here (2f + 1): their proposals, prepares and commits are in
    for (const i of [2, 3, 4, 5, 6]) {
      const { msg, hash } = proposal(i);
      r.step({ type: "message", msg }, 10);
      for (const kind of ["prepare", "commit"] as const)
        for (const m of ["eag2", "eag3", "eag4", "eag5"])
          r.step({ type: "message", msg: vote(kind, m, hash, i) }, 10);
    }
    return r;
  };
  // the timer runs a whole tick late: a slot with its leader's proposal would be let off (test below)
  const r = roundMovedOn();
  const outs = r.step({ type: "timer", key: TIMER }, 10 + 2 * tick);
  assert.ok(viewChanged(outs), "the first tick gave up the view");
  // counted apart from plain timeouts (the operators' view changes by cause)
  assert.ok(outs.some((o) => o.type === "vote" && o.record.kind === "vc" && o.orphan === true));
  // one peer's prepare in the slot says its proposal is out there, lost on its way to us only: the
  // leader's re-send may bring it, and the slot keeps its patience
  const lost = roundMovedOn();
  lost.step({ type: "message", msg: vote("prepare", "eag2", proposal().hash) }, 10);
  assert.equal(
    tickUntilViewChange(lost, 10, () => []),
    2,
  );
  // a round that has not moved on (its proposals in, but fewer than 2f + 1 slots decided) is no evidence
  const early = replica();
  for (const i of [2, 3, 4, 5, 6]) early.step({ type: "message", msg: proposal(i).msg }, 10);
  assert.equal(
    tickUntilViewChange(early, 10, () => []),
    2,
  );
});

test("a slot whose proposal has not reached us yet keeps its view while f + 1 peers vote in it", () => {
  const r = replica();
  const { hash } = proposal();
  // round 0 is under way (another slot's proposal is in): its slots' timers run
  r.step({ type: "message", msg: proposal(2).msg }, 10);
  const at = tickUntilViewChange(r, 10, (tick) =>
    tick <= 2 ? ["eag2", "eag3", "eag4"].map((m) => vote(tick === 1 ? "prepare" : "commit", m, hash)) : [],
  );
  assert.equal(at, 4, "the leader is evidently alive: others have its proposal");
});

test(`at most ${SPARED_TICKS} ticks are let off in a view, however many votes come`, () => {
  const r = replica();
  const { msg } = proposal();
  r.step({ type: "message", msg }, 10);
  // three members vote for a new block of their own every tick (faulty, or a leader that equivocated):
  // news every tick, never a quorum
  const at = tickUntilViewChange(r, 20, (tick) =>
    ["eag2", "eag3", "eag4"].map((m) => vote("prepare", m, `${tick}`.padStart(64, "0"))),
  );
  assert.equal(at, SPARED_TICKS + 2);
});

test("a timer that runs more than half a tick late neither counts nor re-sends: we are behind on our input", () => {
  const r = replica();
  const { msg } = proposal();
  r.step({ type: "message", msg }, 10);
  const tick = DEFAULT_CONFIG.slotTimeoutMs;
  let now = 10;
  const resent: string[] = [];
  // the slot's timer is due a tick after each arming; it runs a whole tick late every time
  for (let i = 1; i <= SPARED_TICKS; i++) {
    now += 2 * tick;
    const outs = r.step({ type: "timer", key: TIMER }, now);
    assert.ok(!viewChanged(outs), `late tick ${i} gave up the view`);
    for (const o of outs) if (o.type === "send") resent.push(o.msg.t);
  }
  assert.deepEqual(resent, [], "a late tick re-sent our messages");
  // once the bound is used up, ticks count again, late or not
  now += 2 * tick;
  assert.ok(!viewChanged(r.step({ type: "timer", key: TIMER }, now)));
  now += 2 * tick;
  assert.ok(viewChanged(r.step({ type: "timer", key: TIMER }, now)), "the view is given up after the bound");
});

test("the slot timeout grows with the consortium beyond 7 members, in proportion", () => {
  assert.equal(slotTimeoutFor(500, 4), 500);
  assert.equal(slotTimeoutFor(500, 7), 500);
  assert.equal(slotTimeoutFor(500, 16), 1_143);
  assert.equal(slotTimeoutFor(500, 51), 3_643);
  assert.equal(slotTimeoutFor(60, 51), 437, "a short configured timeout stays short in proportion");
  // a member of 51 arms its first slot timer with it
  const ids = Array.from({ length: 51 }, (_, i) => `eag${i}`);
  const keys = new Map(ids.map((m) => [m, `s-${m}`]));
  const r = new Replica(
    { ...DEFAULT_CONFIG, members: ids, self: "eag0" },
    { signer: simSigner("eag0", keys.get("eag0")!), verifier: simVerifier(keys), machine: new KvMachine() },
  );
  r.step({ type: "restart" }, 0);
  r.step({ type: "submit", tx: { id: "a", key: "k", add: 1 } }, 1);
  const outs = r.step({ type: "timer", key: "batch" }, 10);
  const timer = outs.find((o) => o.type === "timer" && o.key === "slot:0:0");
  assert.ok(timer !== undefined && timer.type === "timer", "the proposal armed its slot's timer");
  assert.equal(timer.delayMs, 3_643);
});
