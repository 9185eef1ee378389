/**
 * Backup and restore of an agent's store (docs/OPERATIONS.md): a copy made with SQLite's online backup
 * while the store is in use, restored later, numbers its next messages above everything sent since the
 * copy, so the aggregator does not take new readings for copies of old ones.
 */
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, it } from "node:test";
import Database from "better-sqlite3";
import { AgentStore } from "../agent/store/agent-store.js";
import { tempDir } from "../bench/harness/tmp.js";

const tmp = tempDir("gridlet-backup-");
after(() => tmp.cleanup());

it("a restored agent store never reuses a sequence number sent after the backup", async () => {
  const path = join(tmp.dir, "agent.sqlite");
  let clock = Date.UTC(2026, 0, 1);
  const firstSeq = () => clock * 1000;
  const sign = (_r: unknown, seq: number) => ({ type: "reading", payload: String(seq) });
  const reading = (i: number) => ({ meter: "m", ts: clock, importWh: i, exportWh: 0, powerW: 1 });

  const live = new AgentStore(path, "agent-1", firstSeq);
  for (let i = 0; i < 10; i++) live.appendReadings([reading(i)], sign);
  // the online backup, as `sqlite3 agent.sqlite ".backup copy.sqlite"` makes it while the agent runs
  await live.database.backup(join(tmp.dir, "copy.sqlite"));
  const sentAfterBackup: number[] = [];
  for (let i = 10; i < 1000; i++) {
    clock += 1000;
    sentAfterBackup.push(live.appendReadings([reading(i)], sign)[0].seq);
  }
  live.close();

  // the SD card dies; a day later the backup is put back
  clock += 86_400_000;
  copyFileSync(join(tmp.dir, "copy.sqlite"), path);
  const restored = new AgentStore(path, "agent-1", firstSeq);
  assert.equal(restored.counters().readingsStored, 10, "the backup's content");
  const next = restored.appendReadings([reading(1000)], sign)[0].seq;
  assert.ok(
    next > Math.max(...sentAfterBackup),
    `next seq ${next} must be above ${Math.max(...sentAfterBackup)}`,
  );
  restored.close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
  db.close();
});
