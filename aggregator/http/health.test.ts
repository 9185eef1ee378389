import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aggregatorHealth, STALL_AFTER_MS } from "./health.js";
import type { AggregatorSnapshot, LedgerSnapshot } from "./snapshot.js";

function snapshot(ledger: Partial<LedgerSnapshot> | null, connected = true): AggregatorSnapshot {
  const members = ["a", "b", "c", "d"].map((id, i) => ({
    id,
    state: i === 0 ? ("self" as const) : ("in-step" as const),
    height: 10,
    lastMessageAgeMs: 0,
    messages: 0,
  }));
  return {
    id: "a",
    at: 100_000,
    startedAt: 0,
    broker: { url: "mqtt://127.0.0.1:1883", embedded: true, connected, connections: {}, refusals: {} },
    agentsOnline: [],
    ingest: { accepted: 0, duplicates: 0, refused: {}, verifiedOnThreads: 5 },
    ledger:
      ledger === null
        ? null
        : ({
            height: 10,
            members,
            quorum: 3,
            reachable: 4,
            lastCommitAgeMs: 500,
            outboxDepth: 0,
            ...ledger,
          } as LedgerSnapshot),
  };
}

describe("aggregator health", () => {
  it("is ok for a member with a quorum in reach, idle or committing", () => {
    assert.equal(aggregatorHealth(snapshot({})).ok, true);
    const idle = aggregatorHealth(snapshot({ lastCommitAgeMs: 10 * 60_000, outboxDepth: 0 }));
    assert.equal(idle.ok, true, "nothing to order is not a failure");
    assert.equal(aggregatorHealth(snapshot(null)).ok, true);
  });

  it("fails with the reason: broker lost, quorum out of reach, consensus stalled", () => {
    const lost = aggregatorHealth(snapshot({}, false));
    assert.deepEqual(lost, { ok: false, reason: "no connection to the broker at mqtt://127.0.0.1:1883" });
    const minority = aggregatorHealth(snapshot({ reachable: 2 }));
    assert.equal(minority.ok, false);
    assert.match(minority.reason, /only 2 of 4 members reachable, a quorum is 3/);
    const stalled = aggregatorHealth(snapshot({ outboxDepth: 12, lastCommitAgeMs: STALL_AFTER_MS + 11_000 }));
    assert.equal(stalled.ok, false);
    assert.match(stalled.reason, /consensus stalled: 12 envelopes waiting, last block 41\.0 s ago/);
    const never = aggregatorHealth(snapshot({ outboxDepth: 1, lastCommitAgeMs: null }));
    assert.match(never.reason, /no block committed since start/);
  });
});
