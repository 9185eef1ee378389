import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentSnapshot } from "../runtime/snapshot.js";
import { agentHealth } from "./health.js";
import { agentMetrics } from "./metrics.js";

function snapshot(o: Partial<AgentSnapshot> = {}): AgentSnapshot {
  const driver = { reads: 10, crcErrors: 2, timeouts: 1, exceptions: 0, reconnects: 1, garbage: 3 };
  return {
    id: "agent-1",
    at: 100_000,
    startedAt: 0,
    intervalMs: 1000,
    lastStoredAt: 99_000,
    meters: [
      { id: "grid", readings: 9, failures: 1, lastStoredAt: 99_000, failing: null, driver, latest: null },
    ],
    runtime: {
      ticks: 10,
      readFailures: 1,
      receipts: 4,
      badReceipts: 0,
      acked: 9,
      deadLettered: 0,
      foreignDown: 0,
    },
    outbox: { outboxDepth: 2, deadLetters: 0, lastReceiptAt: null },
    link: {
      connected: true,
      broker: "agg-2",
      home: "agg-1",
      failovers: 1,
      connects: 2,
      published: 11,
      inflight: 2,
      resends: 0,
    },
    homeAssistant: { enabled: true, mirror: null },
    ...o,
  };
}

describe("agent health", () => {
  it("is ok while readings are stored, failing with the reason when they stop", () => {
    assert.equal(agentHealth(snapshot()).ok, true);
    const silent = agentHealth(snapshot({ at: 109_000 }));
    assert.equal(silent.ok, false);
    assert.match(silent.reason, /no reading stored for 10\.0 s/);
    const never = agentHealth(
      snapshot({
        lastStoredAt: null,
        meters: [{ ...snapshot().meters[0], failing: "TIMEOUT", lastStoredAt: null }],
      }),
    );
    assert.equal(never.ok, false);
    assert.match(never.reason, /no reading stored yet \(failing: grid TIMEOUT\)/);
  });

  it("metrics name the driver counters per meter and the fail-over state", async () => {
    const text = await agentMetrics(() => snapshot()).registry.metrics();
    assert.match(text, /^gridlet_meter_crc_errors_total\{meter="grid"\} 2$/m);
    assert.match(text, /^gridlet_meter_garbage_total\{meter="grid"\} 3$/m);
    assert.match(text, /^gridlet_agent_last_reading_age_seconds\{meter="grid"\} 1$/m);
    assert.match(text, /^gridlet_agent_failed_over 1$/m);
    assert.match(text, /^gridlet_agent_broker\{aggregator="agg-2",home="false"\} 1$/m);
    assert.doesNotMatch(text, /^gridlet_agent_last_receipt_age_seconds /m);
  });
});
