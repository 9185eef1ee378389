import { collectDefaultMetrics, Histogram } from "#prom-client";
import { byLabel, type Sample, ScrapedMetrics } from "../../protocol/http/metrics.js";
import type { AggregatorSnapshot, LedgerSnapshot } from "./snapshot.js";

/** Buckets of the commit latency histogram, in seconds: 10 ms (loopback) to 30 s (a stuck slot). */
export const COMMIT_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The aggregator's Prometheus metrics (docs/AGGREGATOR.md, "HTTP: dashboard, metrics, status, health").
 * Everything is read from a snapshot at scrape time except the latency histogram, observed per block.
 */
export function aggregatorMetrics(snap: () => AggregatorSnapshot): {
  metrics: ScrapedMetrics;
  commitLatency: Histogram;
} {
  const m = new ScrapedMetrics();
  collectDefaultMetrics({ register: m.registry });
  const ledger = <T>(f: (l: LedgerSnapshot) => T): T | undefined => {
    const l = snap().ledger;
    return l === null ? undefined : f(l);
  };
  const none: Sample[] = [];

  m.counter(
    "gridlet_ingest_accepted_total",
    "agent envelopes verified and stored",
    [],
    () => snap().ingest.accepted,
  );
  m.counter(
    "gridlet_ingest_duplicates_total",
    "agent envelopes received again (receipted, not stored twice)",
    [],
    () => snap().ingest.duplicates,
  );
  m.counter(
    "gridlet_ingest_refused_total",
    "agent envelopes and broker logins refused, by code",
    ["code"],
    () => byLabel("code", snap().ingest.refused),
  );
  m.counter(
    "gridlet_ingest_thread_verified_total",
    "agent envelopes whose signature a verify thread checked (the rest were checked on the event loop)",
    [],
    () => snap().ingest.verifiedOnThreads,
  );
  m.gauge("gridlet_broker_connected", "1 while the aggregator holds its connection to its broker", [], () =>
    snap().broker.connected ? 1 : 0,
  );
  m.gauge("gridlet_broker_connections", "clients connected to the embedded broker, by role", ["role"], () => {
    const c = snap().broker.connections;
    return c === null ? undefined : byLabel("role", { agent: 0, aggregator: 0, ...c });
  });
  m.gauge(
    "gridlet_agents_online",
    "agents connected to this aggregator's embedded broker",
    [],
    () => snap().agentsOnline?.length,
  );

  m.gauge("gridlet_ledger_height", "blocks executed by this aggregator", [], () => ledger((l) => l.height));
  m.gauge("gridlet_consensus_round", "round of the last executed block", [], () => ledger((l) => l.round));
  m.counter(
    "gridlet_consensus_blocks_total",
    "blocks committed while running (replayed ones not counted)",
    [],
    () => ledger((l) => l.liveBlocks) ?? 0,
  );
  m.counter(
    "gridlet_consensus_view_changes_total",
    "view changes this member started, by cause",
    ["cause"],
    () => ledger((l) => byLabel("cause", l.viewChanges)) ?? none,
  );
  const consensus = <T>(f: (c: LedgerSnapshot["consensus"]) => T) => ledger((l) => f(l.consensus));
  m.counter(
    "gridlet_consensus_rounds_total",
    "rounds fully executed while running",
    [],
    () => consensus((c) => c.rounds) ?? 0,
  );
  m.gauge("gridlet_consensus_rounds_per_second", "rounds executed per second over the last 10 s", [], () =>
    consensus((c) => c.roundsPerSec),
  );
  m.counter(
    "gridlet_consensus_catchup_requests_total",
    "requests for decided blocks sent to peers (this member was behind)",
    [],
    () => consensus((c) => c.catchUpRequests) ?? 0,
  );
  m.counter(
    "gridlet_consensus_catchup_blocks_total",
    "blocks executed from a peer's certificate rather than this member's own quorum",
    [],
    () => consensus((c) => c.catchUpBlocks) ?? 0,
  );
  m.counter(
    "gridlet_consensus_signature_checks_total",
    "consensus signatures checked (proposals, votes, certificates, checkpoints)",
    [],
    () => consensus((c) => c.signatureChecks) ?? 0,
  );
  m.gauge("gridlet_consensus_peers_heard", "peers a consensus message came from in the last 10 s", [], () =>
    consensus((c) => c.heardFrom),
  );
  m.gauge(
    "gridlet_consensus_members_lagging",
    "peers whose messages show them 4 rounds or more behind",
    [],
    () => consensus((c) => c.lagging),
  );
  m.gauge("gridlet_consensus_waiting_slots", "slots waiting for a decision", [], () =>
    consensus((c) => c.waitingSlots),
  );
  m.counter(
    "gridlet_consensus_peer_messages_total",
    "consensus messages received, by peer",
    ["member"],
    () =>
      ledger((l) =>
        l.members.filter((x) => x.state !== "self").map((x): Sample => [{ member: x.id }, x.messages]),
      ) ?? none,
  );
  m.counter(
    "gridlet_consensus_faults_total",
    "Byzantine faults detected, by kind",
    ["kind"],
    () => ledger((l) => byLabel("kind", l.faults)) ?? none,
  );
  m.counter(
    "gridlet_consensus_messages_rejected_total",
    "consensus messages the core refused",
    [],
    () => ledger((l) => l.rejectedMessages) ?? 0,
  );
  m.gauge("gridlet_consensus_members", "members of the consortium", [], () =>
    ledger((l) => l.members.length),
  );
  m.gauge("gridlet_consensus_quorum", "members needed to commit (2f+1)", [], () => ledger((l) => l.quorum));
  m.gauge("gridlet_consensus_peers_connected", "peer brokers this member is connected to", [], () =>
    ledger((l) => l.reachable - 1),
  );
  m.gauge("gridlet_consensus_member_state", "1 for each member's current state", ["member", "state"], () =>
    ledger((l) => l.members.map((x): Sample => [{ member: x.id, state: x.state }, 1])),
  );
  m.gauge(
    "gridlet_consensus_member_height",
    "own height, or the highest position a peer's messages showed",
    ["member"],
    () => ledger((l) => l.members.map((x): Sample => [{ member: x.id }, x.height])),
  );
  m.gauge("gridlet_consensus_last_commit_age_seconds", "time since the last block committed", [], () =>
    ledger((l) => (l.lastCommitAgeMs === null ? undefined : l.lastCommitAgeMs / 1000)),
  );
  m.gauge("gridlet_ledger_outbox_depth", "agent envelopes accepted and not yet committed", [], () =>
    ledger((l) => l.outboxDepth),
  );
  m.counter(
    "gridlet_ledger_transactions_total",
    "transactions applied, by type",
    ["type"],
    () => ledger((l) => byLabel("type", l.transactions)) ?? none,
  );
  m.counter(
    "gridlet_ledger_refused_total",
    "transactions the ledger refused, by type and code",
    ["type", "code"],
    () => ledger((l) => l.refusals.map((r): Sample => [{ type: r.type, code: r.code }, r.count])) ?? none,
  );

  m.counter(
    "gridlet_market_orders_total",
    "orders accepted into the book",
    [],
    () => ledger((l) => l.events["order-accepted"] ?? 0) ?? 0,
  );
  m.gauge("gridlet_market_open_orders", "orders in the book", [], () => ledger((l) => l.market.openOrders));
  m.counter(
    "gridlet_market_trades_total",
    "trades matched",
    [],
    () => ledger((l) => l.events.matched ?? 0) ?? 0,
  );
  m.gauge("gridlet_market_open_trades", "trades matched and not yet settled", [], () =>
    ledger((l) => l.market.openTrades),
  );
  m.counter(
    "gridlet_market_traded_wh_total",
    "energy matched, Wh",
    [],
    () => ledger((l) => l.market.tradedWh) ?? 0,
  );
  m.counter(
    "gridlet_market_traded_mc_total",
    "payments matched, milli-coins",
    [],
    () => ledger((l) => l.market.tradedMc) ?? 0,
  );
  m.counter(
    "gridlet_market_settlements_total",
    "trades closed, by outcome",
    ["outcome"],
    () => ledger((l) => byLabel("outcome", l.market.settlements)) ?? none,
  );
  m.gauge(
    "gridlet_market_clearing_price_mc_per_kwh",
    "clearing price of the last interval that crossed",
    [],
    () => ledger((l) => l.market.lastClearingPriceMcPerKwh ?? undefined),
  );
  m.gauge("gridlet_market_interval_volume_wh", "energy matched in the last cleared interval", [], () =>
    ledger((l) => l.market.intervals.at(-1)?.volumeWh),
  );
  m.gauge("gridlet_loans", "loans of every bank, by status", ["status"], () =>
    ledger((l) => byLabel("status", l.loans.byStatus)),
  );
  m.gauge("gridlet_loans_outstanding_mc", "balance still owed on active and defaulted loans", [], () =>
    ledger((l) => l.loans.outstandingMc),
  );

  const commitLatency = new Histogram({
    name: "gridlet_commit_latency_seconds",
    help: "from a block's proposer timestamp to its commit at this member (includes clock skew)",
    buckets: COMMIT_LATENCY_BUCKETS,
    registers: [m.registry],
  });
  return { metrics: m, commitLatency };
}
