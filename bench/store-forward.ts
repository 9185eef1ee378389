/**
 * Store and forward: a day of one-second readings (86 400) buffered in the agent's store during an
 * outage, then delivered after (re)connect to an aggregator with its embedded broker, each envelope
 * verified, stored and receipted. Target: drained in under 60 s, none lost, none doubled. Agent and
 * aggregator are separate processes, as in service. Prints one JSON object.
 * Run: node dist/bench/store-forward.js [readings]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readingBody } from "../agent/runtime/agent.js";
import { AgentStore, readStoreCounters } from "../agent/store/agent-store.js";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { MSG_READING } from "../protocol/messages/readings.js";
import { writeAgentConfig, writeAggregatorConfig } from "./harness/config.js";
import { freePort } from "./harness/net.js";
import { makePki } from "./harness/pki.js";
import { spawnAgentService, spawnGridlet } from "./harness/procs.js";
import { waitFor } from "./harness/tmp.js";
import { agentReadings, aggregatorReadings } from "./harness/verify-db.js";

export async function run(readings = 86_400): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-sf-"));
  mkdirSync(join(dir, "run"));
  try {
    const pki = makePki(dir, "agg-1", ["agent-1"]);
    const agent = pki.agents[0];
    const storePath = join(dir, "agent-1.sqlite");
    const start = Date.now() - readings * 1000;
    const store = new AgentStore(storePath, agent.id, () => 1);
    const fillStart = process.hrtime.bigint();
    // Buffered as the agent would have: one reading per one-second tick, signed when read.
    for (let i = 0; i < readings; i += 3600) {
      const hour = Array.from({ length: Math.min(3600, readings - i) }, (_, k) => ({
        meter: "main",
        ts: start + (i + k) * 1000,
        importWh: 5_000_000 + i + k,
        exportWh: 0,
        powerW: 3600,
      }));
      store.appendReadings(hour, (r, seq) => ({
        type: MSG_READING,
        payload: encodeEnvelope(
          signEnvelope(
            { type: MSG_READING, from: agent.id, seq, ts: r.ts, body: readingBody(r) },
            agent.key.seed,
          ),
        ).toString("utf8"),
      }));
    }
    store.close();
    const fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9;

    const port = await freePort();
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki, { embeddedPort: port }),
    ]);
    await agg.waitForOutput(/aggregator started/, 30_000);
    const agentConfig = writeAgentConfig(dir, pki, 0, {
      url: `mqtt://127.0.0.1:${port}`,
      intervalMs: 3_600_000,
      storePath,
      meters: [{ id: "main", driver: "synthetic", readings: 0 }],
    });
    const t0 = Date.now();
    // As deployed: the unit's entry point and node flags (a small heap must still drain a day's backlog).
    const agentProc = spawnAgentService(agentConfig);
    let connectedAt: number | undefined;
    let drainedAt = 0;
    try {
      await waitFor(
        "the outbox to drain",
        () => {
          if (connectedAt === undefined && agentProc.output().includes("mqtt connected"))
            connectedAt = Date.now();
          if (readStoreCounters(storePath).outboxDepth !== 0) return false;
          drainedAt = Date.now();
          return true;
        },
        600_000,
        50,
      );
    } finally {
      await agentProc.stop();
      await agg.stop();
    }
    const mine = agentReadings(storePath);
    const theirs = aggregatorReadings(join(dir, "agg-1.sqlite"));
    const theirSeqs = new Set(theirs.map((r) => r.seq));
    const lost = mine.filter((r) => !theirSeqs.has(r.seq)).length;
    const doubled = theirs.length - theirSeqs.size;
    const drainSeconds = (drainedAt - (connectedAt ?? t0)) / 1000;
    return {
      bench: "store-forward",
      readings,
      fillSeconds: round(fillSeconds),
      /** from the agent's MQTT connection to an empty outbox (every envelope receipted) */
      drainSeconds: round(drainSeconds),
      /** from spawning the agent process, start-up included */
      drainSecondsFromSpawn: round((drainedAt - t0) / 1000),
      readingsPerSec: Math.round(readings / drainSeconds),
      limitSeconds: 60,
      ratioToLimit: round(drainSeconds / 60),
      meetsTarget: drainSeconds < 60 && lost === 0 && doubled === 0 && theirs.length === readings,
      atAggregator: theirs.length,
      lost,
      doubled,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const n = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined;
  run(n).then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
