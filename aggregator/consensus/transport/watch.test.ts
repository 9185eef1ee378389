import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../../../protocol/log.js";
import type { Output } from "../types.js";
import { HostStats, SILENT_AFTER_MS } from "./host-stats.js";
import { ConsensusWatch } from "./watch.js";

const members = ["a", "b", "c", "d"];

function setup(o: { connected?: string[]; peerQuietMs?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("consensus:watch", {
    level: "info",
    json: true,
    journal: false,
    sink: { write: (l) => lines.push(JSON.parse(l)) },
  });
  const stats = new HostStats(4);
  const world = { height: 0, waiting: 0 };
  const watch = new ConsensusWatch(
    {
      self: "a",
      members,
      stats,
      height: () => world.height,
      waiting: () => world.waiting,
      ...(o.connected === undefined ? {} : { connected: () => o.connected ?? [] }),
    },
    log,
    {
      reportEveryMs: 10_000,
      stallAfterMs: 3_000,
      viewChangeQuietMs: 5_000,
      peerQuietMs: o.peerQuietMs ?? 5_000,
    },
  );
  const msgs = (m: string) => lines.filter((l) => l.msg === m);
  return { lines, stats, world, watch, msgs };
}

const commit = (seq: number, adopted?: true): Output =>
  ({
    type: "commit",
    entry: { seq },
    hash: "h",
    results: [],
    ...(adopted ? { adopted } : {}),
  }) as unknown as Output;
const vc = (seq: number): Output => ({
  type: "vote",
  record: { seq, kind: "vc", view: 1, hash: null, prepared: null },
});
const hello = (stats: HostStats, from: string, round: number, at: number) =>
  stats.message({ t: "commit", from, round, index: 0, view: 0, hash: "h", sig: "s" }, at);

describe("consensus watch (rate-limited log lines)", () => {
  it("writes one progress line per period with rates, view changes, catch-up and peers", () => {
    const { stats, world, watch, msgs } = setup();
    watch.check(0);
    for (let r = 0; r < 5; r++)
      stats.outputs(
        [0, 1, 2, 3].map((i) => commit(r * 4 + i)),
        "message",
        1_000,
      );
    stats.outputs([vc(20), vc(21)], "timer", 2_000);
    stats.outputs([vc(22)], "message", 2_000);
    world.height = 20;
    hello(stats, "b", 4, 9_000);
    hello(stats, "c", 1, 9_000);
    for (let t = 1_000; t < 10_000; t += 1_000) watch.check(t);
    assert.equal(msgs("consensus progress").length, 0);
    watch.check(10_000);
    const [p] = msgs("consensus progress");
    assert.deepEqual(
      {
        height: p.height,
        roundsPerSec: p.roundsPerSec,
        blocksPerSec: p.blocksPerSec,
        viewChanges: p.viewChanges,
        heardFrom: p.heardFrom,
        lagging: p.lagging,
        silent: p.silent,
      },
      {
        height: 20,
        roundsPerSec: 0.5,
        blocksPerSec: 2,
        viewChanges: { timeout: 2, orphan: 0, equivocation: 0, joined: 1 },
        heardFrom: "2/3",
        lagging: [],
        silent: ["d"],
      },
    );
    // the next line counts only what happened since
    watch.check(20_000);
    const second = msgs("consensus progress")[1];
    assert.equal(second.roundsPerSec, 0);
    assert.deepEqual(second.viewChanges, { timeout: 0, orphan: 0, equivocation: 0, joined: 0 });
  });

  it("logs a burst of view changes once per cause, and a new burst after a quiet period", () => {
    const { stats, watch, msgs } = setup();
    for (let i = 0; i < 50; i++) {
      stats.outputs([vc(100 + i)], "timer", 1_000 + i * 10);
      watch.check(1_000 + i * 10);
    }
    stats.outputs([vc(300)], "message", 1_600);
    watch.check(1_600);
    assert.equal(msgs("view change").length, 2);
    assert.deepEqual(
      msgs("view change").map((l) => [l.cause, l.round, l.index, l.view]),
      [
        ["timeout", 25, 0, 1],
        ["joined", 75, 0, 1],
      ],
    );
    stats.outputs([vc(400)], "timer", 20_000);
    watch.check(20_000);
    const third = msgs("view change")[2];
    assert.equal(third.cause, "timeout");
    assert.equal(third.previousBurst, 50);
  });

  it("says when a peer turns silent, lagging or unreachable and when it is back in step", () => {
    const connected = ["b", "c", "d"];
    const { stats, world, watch, lines: all } = setup({ connected });
    const peerLines = () => all.filter((l) => String(l.msg).startsWith("peer"));
    watch.check(-20_000);
    watch.check(-15_000);
    assert.equal(peerLines().length, 0, "peers have 10 s after the start to be heard from");
    for (const p of ["b", "c", "d"]) hello(stats, p, 0, 0);
    watch.check(0);
    assert.equal(peerLines().length, 0);
    world.height = 40;
    hello(stats, "b", 10, 1_000);
    hello(stats, "c", 9, 1_000);
    hello(stats, "d", 10, 1_000);
    watch.check(1_000);
    assert.equal(peerLines().length, 0);
    world.height = 200;
    hello(stats, "b", 50, 2_000);
    hello(stats, "d", 50, 2_000);
    watch.check(2_000);
    assert.deepEqual(
      peerLines().map((l) => [l.level, l.msg, l.peer]),
      [["warn", "peer lagging", "c"]],
    );
    connected.splice(connected.indexOf("d"), 1);
    hello(stats, "c", 50, 3_000);
    watch.check(3_000);
    watch.check(3_500);
    assert.deepEqual(
      peerLines()
        .slice(1)
        .map((l) => [l.level, l.msg, l.peer]),
      [
        ["info", "peer in step again", "c"],
        ["warn", "peer unreachable", "d"],
      ],
    );
    watch.check(3_000 + SILENT_AFTER_MS + 1);
    assert.deepEqual(
      peerLines()
        .slice(3)
        .map((l) => [l.msg, l.peer]),
      [
        ["peer silent", "b"],
        ["peer silent", "c"],
      ],
    );
  });

  it("writes the changes of a flapping peer once a peerQuietMs, counting the others", () => {
    const { stats, watch, lines } = setup({ peerQuietMs: 60_000 });
    watch.check(0);
    let t = 0;
    for (let k = 0; k < 4; k++) {
      t += 500;
      for (const p of ["b", "c", "d"]) hello(stats, p, 0, t);
      watch.check(t);
      t += SILENT_AFTER_MS + 1;
      for (const p of ["b", "d"]) hello(stats, p, 0, t);
      watch.check(t);
    }
    const c = lines.filter((l) => l.peer === "c");
    assert.deepEqual(
      c.map((l) => l.msg),
      ["peer silent", "peer in step again"],
    );
    t += 60_000;
    for (const p of ["b", "c", "d"]) hello(stats, p, 0, t);
    watch.check(t);
    t += SILENT_AFTER_MS + 1;
    for (const p of ["b", "d"]) hello(stats, p, 0, t);
    watch.check(t);
    const next = lines.filter((l) => l.peer === "c")[2];
    assert.equal(next.msg, "peer silent");
    assert.equal(next.changesNotLogged, 6);
  });

  it("says when catching up starts and ends, and when waiting slots stall", () => {
    const { stats, world, watch, msgs } = setup();
    watch.check(0);
    world.height = 8;
    stats.outputs(
      [0, 1, 2, 3, 4, 5, 6, 7].map((s) => commit(s, true)),
      "message",
      500,
    );
    watch.check(1_000);
    stats.outputs([commit(8, true)], "message", 1_500);
    world.height = 9;
    watch.check(2_000);
    watch.check(3_000);
    assert.deepEqual(
      msgs("catching up from peers' certificates").map((l) => l.fromHeight),
      [0],
    );
    assert.deepEqual(
      msgs("caught up").map((l) => [l.blocks, l.height, l.ms]),
      [[9, 9, 2_000]],
    );
    world.waiting = 3;
    watch.check(4_000);
    watch.check(6_000);
    assert.equal(msgs("consensus stalled: slots wait and no block executes").length, 0);
    watch.check(7_000);
    watch.check(8_000);
    assert.equal(msgs("consensus stalled: slots wait and no block executes").length, 1);
    stats.outputs([commit(9)], "message", 8_500);
    watch.check(9_000);
    assert.deepEqual(
      msgs("consensus moving again").map((l) => l.stalledMs),
      [5_000],
    );
  });
});
