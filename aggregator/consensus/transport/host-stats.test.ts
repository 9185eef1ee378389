import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Message } from "../messages.js";
import type { Output } from "../types.js";
import { HostStats, SILENT_AFTER_MS } from "./host-stats.js";

const vc: Output = { type: "vote", record: { seq: 5, kind: "vc", view: 1, hash: null, prepared: null } };

describe("consensus host statistics", () => {
  it("attributes each view change to its cause", () => {
    const s = new HostStats(4);
    s.outputs([vc], "timer");
    s.outputs([{ ...vc, orphan: true } as Output], "timer");
    s.outputs([{ type: "fault", kind: "equivocation", member: "b", detail: "two proposals" }, vc], "message");
    s.outputs([vc], "message");
    s.outputs([vc], "start");
    s.outputs([{ type: "rejected", from: "c", reason: "bad" }], "message");
    assert.deepEqual(s.viewChanges, { timeout: 1, orphan: 1, equivocation: 1, joined: 1 });
    assert.deepEqual(s.faults, { equivocation: 1, divergence: 0 });
    assert.equal(s.rejected, 1);
  });

  it("tracks how far each peer is from its own messages, even malformed ones", () => {
    const s = new HostStats(4);
    s.message({ t: "commit", from: "b", round: 3, index: 2, view: 0, hash: "h", sig: "s" }, 100);
    s.message({ t: "fetch", from: "b", fromSeq: 5 }, 200);
    s.message({ t: "pp", from: "c" } as unknown as Message, 300);
    s.message({ t: "ckpt", from: "d", round: 8, stateHash: "", link: "", sig: "" }, 400);
    assert.deepEqual(s.peers.get("b"), { lastAt: 200, position: 14, messages: 2 });
    assert.deepEqual(s.peers.get("c"), { lastAt: 300, position: 0, messages: 1 });
    assert.deepEqual(s.peers.get("d"), { lastAt: 400, position: 32, messages: 1 });
  });

  it("counts rounds, blocks and catch-up, but not the replay at start", () => {
    const s = new HostStats(4);
    const commit = (seq: number, adopted?: true): Output =>
      ({
        type: "commit",
        entry: { seq },
        hash: "h",
        results: [],
        ...(adopted ? { adopted } : {}),
      }) as unknown as Output;
    s.outputs([commit(0), commit(1), commit(2), commit(3)], "start", 10);
    assert.equal(s.rounds, 0);
    s.outputs([commit(4), commit(5), commit(6, true), commit(7, true)], "message", 1_000);
    s.outputs([{ type: "send", to: "b", msg: { t: "fetch", from: "a", fromSeq: 8 } }], "timer", 1_100);
    s.outputs([commit(8), commit(9), commit(10), commit(11)], "submit", 5_000);
    assert.equal(s.blocks, 8);
    assert.equal(s.rounds, 2);
    assert.equal(s.lastCommitAt, 5_000);
    assert.deepEqual(s.catchUp, { requests: 1, blocks: 2 });
    // two rounds in the last 10 s, one in the last 2 s
    assert.equal(s.roundRate(6_000), 0.2);
    assert.equal(s.roundRate(6_000, 2_000), 0.5);
    assert.equal(s.roundRate(60_000), 0);
  });

  it("keeps the latest view changes with their slot, view and cause", () => {
    const s = new HostStats(4);
    s.outputs([vc], "timer", 42);
    assert.deepEqual(s.recentViewChanges, [{ at: 42, seq: 5, view: 1, cause: "timeout" }]);
    for (let i = 0; i < 100; i++) s.outputs([vc], "message", 100 + i);
    assert.equal(s.recentViewChanges.length, 32);
    assert.equal(s.recentViewChanges.at(-1)?.at, 199);
  });

  it("calls a peer silent, lagging or in step from its messages", () => {
    const s = new HostStats(4);
    s.message({ t: "commit", from: "b", round: 10, index: 0, view: 0, hash: "h", sig: "s" }, 1_000);
    s.message({ t: "commit", from: "c", round: 2, index: 0, view: 0, hash: "h", sig: "s" }, 1_000);
    // own height 41: b at 40 is in step, c at 8 is more than 4 rounds (16 positions) behind
    assert.equal(s.peerState("b", 2_000, 41), "in-step");
    assert.equal(s.peerState("c", 2_000, 41), "lagging");
    assert.equal(s.peerState("d", 2_000, 41), "silent");
    assert.equal(s.peerState("b", 1_000 + SILENT_AFTER_MS + 1, 41), "silent");
    assert.deepEqual(s.heardFrom(2_000), ["b", "c"]);
  });
});
