/**
 * An agent whose store goes back in time (a backup restored) loses no reading: with the clock's floor its
 * new readings take numbers above everything sent; with a clock behind the floor, the aggregator reports
 * the reused numbers as EQUIVOCATION and the agent re-signs those readings above them. Real SQLite files
 * for agent and aggregator, the real agent runtime's receipt handling and the real ingest; no broker (the
 * outbox is handed to ingest directly and the receipts back to the runtime).
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AgentRuntime } from "../agent/runtime/agent.js";
import { AgentStore } from "../agent/store/agent-store.js";
import { Ingest } from "../aggregator/ingest/ingest.js";
import { readingsHandler } from "../aggregator/ingest/readings.js";
import { ReceiptBatcher } from "../aggregator/ingest/receipts.js";
import { AggregatorStore } from "../aggregator/ingest/store.js";
import { fromHex } from "../protocol/bytes.js";
import { newKeyMaterial } from "../protocol/identity.js";
import { createLogger, silentLogger } from "../protocol/log.js";
import { MSG_READING } from "../protocol/messages/readings.js";
import { nullNotifier } from "../protocol/notify.js";
import { seqFloor } from "../protocol/sequence.js";
import { topics } from "../protocol/topics.js";
import { testCertificate } from "./helpers/fixtures.js";

const T0 = 1_800_000_000_000;

function world(dir: string) {
  const caKey = newKeyMaterial("ca");
  const aggKey = newKeyMaterial("eag0");
  const agentKey = newKeyMaterial("family");
  const aggCert = testCertificate(caKey.seed, "eag0", "aggregator", aggKey);
  const agentCert = testCertificate(caKey.seed, "family", "agent", agentKey, ["gwwallet0001"]);
  let now = T0;
  const clock = () => now;
  const aggStore = new AggregatorStore(join(dir, "agg.db"), "eag0", () => seqFloor(now));
  const down: Buffer[] = [];
  const receipts = new ReceiptBatcher({
    aggregatorId: "eag0",
    seed: aggKey.seed,
    nextSeq: () => aggStore.allocateSeq(),
    now: clock,
    delayMs: 0,
    maxPerReceipt: 1000,
    sender: { send: (_topic, payload) => down.push(payload) },
  });
  const publicKey = fromHex(agentCert.publicKey)!;
  const ingest = new Ingest({
    store: aggStore,
    directory: { lookup: (id) => (id === "family" ? { publicKey, revoked: false } : undefined) },
    receipts,
    now: clock,
    maxFutureMs: 60_000,
    log: silentLogger,
  });
  ingest.registerHandler(MSG_READING, readingsHandler(aggStore.db, 30 * 86_400_000));
  // a real meter: its import register keeps rising with time, whatever happens to the agent's store
  const meter = {
    id: "main",
    read: async () => ({
      meter: "main",
      ts: now,
      importWh: Math.floor((now - T0) / 1000),
      exportWh: 0,
      powerW: 3600,
    }),
    counters: () => ({ reads: 0, crcErrors: 0, timeouts: 0, exceptions: 0, reconnects: 0, garbage: 0 }),
    close: async () => undefined,
  };
  const agentPath = join(dir, "agent.db");

  function startAgent(floor: () => number) {
    const store = new AgentStore(agentPath, "family", floor);
    const runtime = new AgentRuntime({
      id: "family",
      intervalMs: 1000,
      identity: { key: agentKey, cert: agentCert, ca: aggCert, revocations: undefined },
      aggregator: aggCert,
      drivers: [meter],
      store,
      mqtt: {
        url: "mqtt://127.0.0.1:1",
        clientId: "family",
        keepaliveSeconds: 30,
        reconnectMinMs: 1000,
        reconnectMaxMs: 2000,
        inflight: 100,
        receiptTimeoutMs: 5000,
      },
      homeAssistant: { enabled: false, prefix: "homeassistant", stateIntervalMs: 0 },
      notifier: nullNotifier,
      log: createLogger("test:rollback"),
      now: clock,
    });
    return { store, runtime };
  }

  /** Ticks of one second each, their envelopes delivered and the receipts applied until all settle. */
  async function run(agent: ReturnType<typeof startAgent>, ticks: number) {
    for (let i = 0; i < ticks; i++) {
      now += 1000;
      await agent.runtime.tick();
    }
    for (let round = 0; round < 10; round++) {
      const rows = agent.store.outboxAfter(0, 10_000);
      if (rows.length === 0) return;
      for (const r of rows) ingest.receive(topics.agentUp("family"), Buffer.from(r.payload));
      ingest.flush();
      receipts.flush();
      for (const p of down.splice(0)) agent.runtime.receiveDown(p);
    }
    assert.fail("the outbox did not drain");
  }

  const stored = () =>
    aggStore.db.prepare("SELECT seq, ts, import_wh AS importWh FROM readings ORDER BY ts").all() as {
      seq: number;
      ts: number;
      importWh: number;
    }[];
  return { agentPath, startAgent, run, stored, ingest, aggStore, clock: () => now };
}

async function restoredBackup(floorOf: (now: () => number) => () => number) {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-rollback-"));
  try {
    const w = world(dir);
    let agent = w.startAgent(floorOf(w.clock));
    await w.run(agent, 5);
    // the operator's nightly backup, then five more readings, all receipted
    agent.store.database.exec(`VACUUM INTO '${join(dir, "backup.db")}'`);
    await w.run(agent, 5);
    const beforeRestore = agent.store.counters().nextSeq;
    await agent.runtime.stop();
    for (const f of ["agent.db-wal", "agent.db-shm"]) rmSync(join(dir, f), { force: true });
    copyFileSync(join(dir, "backup.db"), w.agentPath);
    agent = w.startAgent(floorOf(w.clock));
    const restoredFrom = agent.store.counters().nextSeq;
    await w.run(agent, 10);
    const out = {
      stored: w.stored(),
      equivocations: w.ingest.stats.equivocations,
      resigned: agent.runtime.counters.resigned,
      dead: agent.store.counters().deadLetters,
      outbox: agent.store.counters().outboxDepth,
      beforeRestore,
      restoredFrom,
    };
    await agent.runtime.stop();
    w.aggStore.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertNoneLost(r: Awaited<ReturnType<typeof restoredBackup>>) {
  // 20 one-second ticks: every reading at the aggregator once, its register rising with time
  assert.equal(r.stored.length, 20, `readings at the aggregator: ${r.stored.length}`);
  assert.deepEqual(
    r.stored.map((x) => x.ts),
    Array.from({ length: 20 }, (_, i) => T0 + (i + 1) * 1000),
  );
  assert.deepEqual(
    r.stored.map((x) => x.importWh),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.equal(new Set(r.stored.map((x) => x.seq)).size, 20, "each under its own sequence number");
  assert.deepEqual([r.dead, r.outbox], [0, 0]);
}

test("a restored backup with the clock's floor: new readings numbered above all sent, none lost", async () => {
  const r = await restoredBackup((now) => () => seqFloor(now()));
  assert.ok(r.restoredFrom > r.beforeRestore, "the floor lifted the restored counter above what was sent");
  assert.equal(r.equivocations, 0);
  assertNoneLost(r);
});

test("a restored backup with a clock behind: reused numbers are EQUIVOCATION, re-signed, none lost", async () => {
  // a Pi without a real-time clock boots with an old time: the floor is below the restored counter
  const r = await restoredBackup(() => () => 1000);
  assert.ok(r.restoredFrom < r.beforeRestore, "the restored counter went back");
  assert.equal(r.equivocations, 5, "the five numbers used after the backup were taken again");
  assert.equal(r.resigned, 5);
  assertNoneLost(r);
});
