import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePrometheusText } from "../../test/helpers/prom-text.js";
import { aggregatorMetrics } from "./metrics.js";
import type { AggregatorSnapshot, LedgerSnapshot } from "./snapshot.js";

const ledger = {
  height: 40,
  round: 9,
  members: [
    { id: "a", state: "self", height: 40, lastMessageAgeMs: 0, messages: 0 },
    { id: "b", state: "in-step", height: 39, lastMessageAgeMs: 5, messages: 120 },
    { id: "c", state: "lagging", height: 2, lastMessageAgeMs: 9, messages: 7 },
  ],
  quorum: 1,
  reachable: 3,
  viewChanges: { timeout: 2, equivocation: 0, joined: 1 },
  consensus: {
    rounds: 10,
    roundsPerSec: 1.5,
    catchUpRequests: 3,
    catchUpBlocks: 12,
    signatureChecks: 777,
    heardFrom: 2,
    lagging: 1,
    waitingSlots: 4,
  },
  faults: { equivocation: 0, divergence: 0 },
  rejectedMessages: 0,
  liveBlocks: 40,
  lastCommitAgeMs: 100,
  outboxDepth: 0,
  market: {
    intervalMs: 60_000,
    openOrders: 0,
    openTrades: 0,
    lastClearingPriceMcPerKwh: null,
    intervals: [],
    tradedWh: 0,
    tradedMc: 0,
    settlements: {},
  },
  transactions: {},
  events: {},
  refusals: [],
  loans: { byStatus: {}, outstandingMc: 0 },
  recent: [],
} satisfies LedgerSnapshot;

const snapshot: AggregatorSnapshot = {
  id: "a",
  at: 0,
  startedAt: 0,
  broker: { url: "mqtt://x", embedded: true, connected: true, connections: {}, refusals: {} },
  agentsOnline: [],
  ingest: { accepted: 0, duplicates: 0, refused: {}, verifiedOnThreads: 5 },
  ledger,
};

describe("aggregator consensus metrics", () => {
  it("exposes round rate, catch-up, signature checks, lagging and per-peer messages", async () => {
    const { metrics } = aggregatorMetrics(() => snapshot);
    // node's event-loop delay monitor reports NaN until it has sampled (prom-client writes "Nan")
    await new Promise((r) => setTimeout(r, 100));
    const fams = parsePrometheusText(await metrics.registry.metrics());
    const value = (name: string, labels: Record<string, string> = {}) =>
      fams.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(fams.get("gridlet_consensus_rounds_total")?.type, "counter");
    assert.equal(value("gridlet_consensus_rounds_total"), 10);
    assert.equal(value("gridlet_consensus_rounds_per_second"), 1.5);
    assert.equal(value("gridlet_consensus_catchup_requests_total"), 3);
    assert.equal(value("gridlet_consensus_catchup_blocks_total"), 12);
    assert.equal(value("gridlet_consensus_signature_checks_total"), 777);
    assert.equal(value("gridlet_consensus_peers_heard"), 2);
    assert.equal(value("gridlet_consensus_members_lagging"), 1);
    assert.equal(value("gridlet_consensus_waiting_slots"), 4);
    assert.equal(value("gridlet_consensus_peer_messages_total", { member: "b" }), 120);
    assert.equal(value("gridlet_consensus_peer_messages_total", { member: "c" }), 7);
    assert.equal(value("gridlet_consensus_peer_messages_total", { member: "a" }), undefined);
    assert.equal(value("gridlet_consensus_view_changes_total", { cause: "timeout" }), 2);
    assert.equal(fams.get("gridlet_ingest_thread_verified_total")?.type, "counter");
    assert.equal(value("gridlet_ingest_thread_verified_total"), 5);
  });
});
