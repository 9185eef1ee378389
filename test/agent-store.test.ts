import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { AgentStore, type ReadingSigner } from "../agent/store/agent-store.js";
import { tempDir } from "../bench/harness/tmp.js";
import { isGridletError } from "../protocol/errors.js";

const sign: ReadingSigner = (r, seq) => ({
  type: "reading",
  payload: JSON.stringify({ seq, meter: r.meter, wh: r.importWh }),
});
const reading = (meter: string, wh: number) => ({
  meter,
  ts: 1_700_000_000_000 + wh,
  importWh: wh,
  exportWh: 0,
  powerW: 1,
});

describe("agent store", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("numbers a tick's readings consecutively, keeps the counter across reopen; a login takes no number", () => {
    const path = join(tmp.dir, "a.sqlite");
    let s = new AgentStore(path, "agent-1", () => 1000);
    const rows = s.appendReadings([reading("m1", 1), reading("m2", 2)], sign);
    assert.deepEqual(
      rows.map((r) => r.seq),
      [1000, 1001],
    );
    // login tokens have their own rising counter, at least the clock's floor
    assert.equal(s.nextLoginSeq(7), 7000);
    assert.equal(s.nextLoginSeq(7), 7001);
    assert.equal(s.nextLoginSeq(9), 9000);
    s.close();
    s = new AgentStore(path, "agent-1", () => 5);
    assert.deepEqual(
      s.appendReadings([reading("m1", 3)], sign).map((r) => r.seq),
      [1002],
      "no gap: the logins took nothing, and a floor below the counter changes nothing",
    );
    assert.deepEqual(
      s.outboxAfter(1000, 10).map((r) => r.seq),
      [1001, 1002],
    );
    assert.equal(s.nextLoginSeq(1), 9001, "the login counter is kept across reopen");
    s.close();
  });

  it("trading messages commit with synchronous=FULL, readings with NORMAL", () => {
    const s = new AgentStore(join(tmp.dir, "sync.sqlite"), "agent-1", () => 1);
    const level = () => s.database.pragma("synchronous", { simple: true });
    let during: unknown;
    s.appendMessages(
      ["order"],
      (_m, seq) => ({ type: "order", payload: String(seq) }),
      () => {
        during = level();
      },
    );
    assert.equal(during, 2, "FULL inside the trading message's transaction");
    assert.equal(level(), 1, "NORMAL again for the readings (the SD card's trade-off)");
    s.close();
  });

  it("a floor above the stored counter raises it at open: a restored backup never reuses a number", () => {
    const path = join(tmp.dir, "floor.sqlite");
    let s = new AgentStore(path, "agent-1", () => 1000);
    s.appendReadings([reading("m", 1), reading("m", 2)], sign);
    s.close();
    s = new AgentStore(path, "agent-1", () => 50_000);
    assert.deepEqual(
      s.appendReadings([reading("m", 3)], sign).map((r) => r.seq),
      [50_000],
    );
    s.close();
  });

  it("resequence re-signs the listed outbox rows above the aggregator's highest and moves their readings", () => {
    const s = new AgentStore(join(tmp.dir, "reseq.sqlite"), "agent-1", () => 10);
    s.appendReadings(
      [1, 2, 3].map((i) => reading("m", i)),
      sign,
    );
    let seen: ReadonlyMap<number, number> | undefined;
    const moved = s.resequence(
      [11, 12, 99],
      500,
      0,
      (row, seq) => ({ type: row.type, payload: `${row.payload}→${seq}` }),
      (m) => {
        seen = m;
      },
    );
    assert.deepEqual(
      [...moved],
      [
        [11, 501],
        [12, 502],
      ],
    );
    assert.deepEqual(seen, moved);
    assert.deepEqual(
      s.outboxAfter(0, 10).map((r) => r.seq),
      [10, 501, 502],
    );
    assert.deepEqual(
      s.readingKeys().map((k) => [k.seq, k.importWh]),
      [
        [10, 1],
        [501, 2],
        [502, 3],
      ],
    );
    assert.equal(s.counters().nextSeq, 503);
    assert.match(s.outboxAfter(500, 1)[0].payload, /→501$/);
    // a meter summary commits to the envelopes the aggregator will store: the re-signed ones
    const envelopes = s.database.prepare("SELECT seq, payload FROM reading_envelopes ORDER BY seq").all() as {
      seq: number;
      payload: string;
    }[];
    assert.deepEqual(
      envelopes.map((e) => e.seq),
      [10, 501, 502],
    );
    assert.match(envelopes[1].payload, /→501$/);
    s.close();
  });

  it("stores nothing and consumes no number when signing fails half-way through a tick", () => {
    const s = new AgentStore(join(tmp.dir, "b.sqlite"), "agent-1", () => 1);
    let n = 0;
    assert.throws(() =>
      s.appendReadings([reading("m1", 1), reading("m2", 2)], (r, seq) => {
        if (++n === 2) throw new Error("signer failed");
        return sign(r, seq);
      }),
    );
    const c = s.counters();
    assert.equal(c.readingsStored, 0);
    assert.equal(c.outboxDepth, 0);
    assert.equal(c.nextSeq, 1);
    s.close();
  });

  it("removes only receipted envelopes and moves refused ones to dead letters", () => {
    const s = new AgentStore(join(tmp.dir, "c.sqlite"), "agent-1", () => 1);
    s.appendReadings(
      [1, 2, 3, 4].map((i) => reading("m", i)),
      sign,
    );
    assert.equal(s.acknowledge([1, 3, 99], 42), 2);
    assert.equal(s.deadLetter([{ seq: 2, code: "STALE", reason: "old" }], 43), 1);
    const c = s.counters();
    assert.deepEqual(
      { depth: c.outboxDepth, dead: c.deadLetters, readings: c.readingsStored, last: c.lastReceiptAt },
      { depth: 1, dead: 1, readings: 4, last: 42 },
    );
    s.close();
  });

  it("refuses a store that belongs to another identity", () => {
    const path = join(tmp.dir, "d.sqlite");
    new AgentStore(path, "agent-1", () => 1).close();
    assert.throws(
      () => new AgentStore(path, "agent-2", () => 1),
      (e) => isGridletError(e) && e.code === "STORE_IDENTITY_MISMATCH",
    );
  });

  it("after kill -9 in the middle of writing, readings and outbox agree and no number is reused", async () => {
    const path = join(tmp.dir, "crash.sqlite");
    const storeModule = fileURLToPath(new URL("../agent/store/agent-store.js", import.meta.url));
    // A writer that appends ticks of 5 readings as fast as it can until it is killed.
    const script = `
      const { AgentStore } = await import(${JSON.stringify(storeModule)});
      const s = new AgentStore(${JSON.stringify(path)}, "agent-1", () => 1);
      const sign = (r, seq) => ({ type: "reading", payload: String(seq) });
      process.stdout.write("go\\n");
      for (let i = 0; ; i++) s.appendReadings(Array.from({ length: 5 }, (_, k) => ({ meter: "m" + k, ts: i, importWh: i, exportWh: 0, powerW: 0 })), sign);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    await new Promise((r) => setTimeout(r, 400));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const s = new AgentStore(path, "agent-1", () => 1);
    const keys = s.readingKeys();
    const c = s.counters();
    assert.ok(keys.length > 0 && keys.length % 5 === 0, `whole ticks only (${keys.length})`);
    assert.equal(c.outboxDepth, keys.length, "every reading has its envelope");
    assert.equal(c.nextSeq, 1 + keys.length, "the counter is exactly past the last stored reading");
    assert.deepEqual(
      keys.map((k) => k.seq),
      keys.map((_k, i) => 1 + i),
    );
    assert.equal(s.appendReadings([reading("m0", 0)], sign)[0].seq, c.nextSeq);
    s.close();
  });
});
