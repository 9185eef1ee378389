import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Message } from "../messages.js";
import type { Output } from "../types.js";
import { HostStats } from "./host-stats.js";

const vc: Output = { type: "vote", record: { seq: 5, kind: "vc", view: 1, hash: null, prepared: null } };

describe("consensus host statistics", () => {
  it("attributes each view change to its cause", () => {
    const s = new HostStats(4);
    s.outputs([vc], "timer");
    s.outputs([{ type: "fault", kind: "equivocation", member: "b", detail: "two proposals" }, vc], "message");
    s.outputs([vc], "message");
    s.outputs([vc], "start");
    s.outputs([{ type: "rejected", from: "c", reason: "bad" }], "message");
    assert.deepEqual(s.viewChanges, { timeout: 1, equivocation: 1, joined: 1 });
    assert.deepEqual(s.faults, { equivocation: 1, divergence: 0 });
    assert.equal(s.rejected, 1);
  });

  it("tracks how far each peer is from its own messages, even malformed ones", () => {
    const s = new HostStats(4);
    s.message({ t: "commit", from: "b", round: 3, index: 2, view: 0, hash: "h", sig: "s" }, 100);
    s.message({ t: "fetch", from: "b", fromSeq: 5 }, 200);
    s.message({ t: "pp", from: "c" } as unknown as Message, 300);
    s.message({ t: "ckpt", from: "d", round: 8, stateHash: "", link: "", sig: "" }, 400);
    assert.deepEqual(s.peers.get("b"), { lastAt: 200, position: 14 });
    assert.deepEqual(s.peers.get("c"), { lastAt: 300, position: 0 });
    assert.deepEqual(s.peers.get("d"), { lastAt: 400, position: 32 });
  });
});
