/**
 * The two rollbacks of an agent's store that used to lose readings without a warning (the aggregator
 * acknowledged the reused sequence numbers as duplicates): its WAL deleted after kill -9, and a backup of
 * its store restored. Real agent and aggregator processes, the embedded broker, real SQLite files.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { readStoreCounters } from "../agent/store/agent-store.js";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import {
  agentReadings,
  aggregatorReadings,
  rejectionCounts,
  reverifyAll,
} from "../bench/harness/verify-db.js";

async function rig(name: string, root: string) {
  const dir = join(root, name);
  mkdirSync(dir);
  const pki = makePki(dir, "agg-1", ["agent-1"]);
  const port = await freePort();
  const agg = spawnGridlet([
    "aggregator",
    "--config",
    writeAggregatorConfig(dir, pki, { embeddedPort: port }),
  ]);
  await agg.waitForOutput(/aggregator started/);
  const config = (readings?: number) =>
    writeAgentConfig(dir, pki, 0, {
      url: `mqtt://127.0.0.1:${port}`,
      intervalMs: 100,
      meters: [
        { id: "main", driver: "synthetic", powerW: 36_000, ...(readings === undefined ? {} : { readings }) },
      ],
    });
  const agentDb = join(dir, "agent-1.sqlite");
  const aggDb = join(dir, "agg-1.sqlite");
  const atAggregator = () => aggregatorReadings(aggDb).length;
  return { dir, pki, agg, config, agentDb, aggDb, atAggregator };
}

/** The second life runs a finite meter to the end and drains its outbox. */
async function finish(agent: Proc, agentDb: string) {
  await waitFor(
    "the restarted agent's readings all receipted",
    () => agent.output().includes("exhausted") && readStoreCounters(agentDb).outboxDepth === 0,
    60_000,
  );
}

/** Every reading either life of the agent still holds, and every one the aggregator had, is there once. */
function assertNoneLost(r: Awaited<ReturnType<typeof rig>>, before: { ts: number }[], secondLife: number) {
  const theirs = aggregatorReadings(r.aggDb);
  assert.equal(reverifyAll(theirs, r.pki), theirs.length, "every stored reading verifies");
  const tsAtAggregator = new Set(theirs.map((x) => x.ts));
  assert.equal(tsAtAggregator.size, theirs.length, "no reading doubled");
  for (const b of before) assert.ok(tsAtAggregator.has(b.ts), `reading at ${b.ts} from before the rollback`);
  const mine = agentReadings(r.agentDb);
  const missing = mine.filter((m) => !theirs.some((t) => t.ts === m.ts && t.importWh === m.importWh));
  assert.deepEqual(missing, [], "every reading the agent holds reached the aggregator");
  const after = mine.filter((m) => m.ts > Math.max(...before.map((b) => b.ts)));
  assert.equal(after.length, secondLife, "the second life's readings are all in the agent's store");
  const rejected = rejectionCounts(r.aggDb);
  assert.equal(rejected.REGISTER_BACKWARDS, undefined);
  assert.equal(rejected.EQUIVOCATION, undefined, "the floor kept every new number above those sent");
  // sequence numbers only ever rose: the restarted agent's numbers are above everything sent before
  const firstLifeMax = Math.max(...theirs.filter((t) => before.some((b) => b.ts === t.ts)).map((t) => t.seq));
  const secondLifeSeqs = theirs.filter((t) => after.some((a) => a.ts === t.ts)).map((t) => t.seq);
  assert.ok(Math.min(...secondLifeSeqs) > firstLifeMax);
}

describe("agent store rolled back: no reading lost", { timeout: 180_000 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("its WAL deleted after kill -9", async () => {
    const r = await rig("wal", tmp.dir);
    let agent = spawnGridlet(["agent", "--config", r.config()]);
    try {
      await waitFor("readings at the aggregator", () => r.atAggregator() >= 10, 30_000);
      // what the file holds without its WAL: the state at this checkpoint
      const db = new Database(r.agentDb);
      db.pragma("wal_checkpoint(PASSIVE)");
      db.close();
      const checkpointed = r.atAggregator();
      await waitFor(
        "more readings, receipted, after the checkpoint",
        () => r.atAggregator() >= checkpointed + 15,
      );
      agent.child.kill("SIGKILL");
      await agent.exited;
      rmSync(`${r.agentDb}-wal`);
      rmSync(`${r.agentDb}-shm`, { force: true });
      const before = aggregatorReadings(r.aggDb);
      agent = spawnGridlet(["agent", "--config", r.config(20)]);
      await finish(agent, r.agentDb);
      assertNoneLost(r, before, 20);
    } finally {
      await agent.stop();
      await r.agg.stop();
    }
  });

  it("a backup of its store restored", async () => {
    const r = await rig("backup", tmp.dir);
    let agent = spawnGridlet(["agent", "--config", r.config()]);
    try {
      await waitFor("readings at the aggregator", () => r.atAggregator() >= 10, 30_000);
      const live = new Database(r.agentDb, { readonly: true });
      await live.backup(join(r.dir, "backup.sqlite"));
      live.close();
      const atBackup = r.atAggregator();
      await waitFor("more readings, receipted, after the backup", () => r.atAggregator() >= atBackup + 15);
      await agent.stop();
      const before = aggregatorReadings(r.aggDb);
      for (const f of ["-wal", "-shm"]) rmSync(`${r.agentDb}${f}`, { force: true });
      copyFileSync(join(r.dir, "backup.sqlite"), r.agentDb);
      agent = spawnGridlet(["agent", "--config", r.config(20)]);
      await finish(agent, r.agentDb);
      assertNoneLost(r, before, 20);
    } finally {
      await agent.stop();
      await r.agg.stop();
    }
  });
});
