import type { BrokerIdentity } from "../broker/login.js";
import { faultTolerance } from "../consensus/types.js";
import type { Ingest } from "../ingest/ingest.js";
import type { RunningLedger } from "../service/service.js";
import type { IntervalMarket, LedgerActivity, RecentEvent } from "./activity.js";

/** What the aggregator's HTTP endpoint reads: the composition root hands these over in one call. */
export interface AggregatorSources {
  id: string;
  /** the broker URL agents use */
  url: string;
  ingest: Ingest;
  /** the embedded broker's connected identities; absent with an external broker */
  connections?: () => BrokerIdentity[];
  /** broker refusals (login, ACL) of the embedded broker */
  brokerRefusals?: () => Record<string, number>;
  /** the aggregator's own connection to its broker */
  brokerConnected: () => boolean;
  ledger?: RunningLedger;
}

export { LAGGING_ROUNDS, SILENT_AFTER_MS } from "../consensus/transport/host-stats.js";

export type MemberState = "self" | "in-step" | "lagging" | "silent" | "unreachable";

export interface MemberSnapshot {
  id: string;
  state: MemberState;
  /** own: blocks executed; peer: the highest ledger position its messages showed */
  height: number;
  lastMessageAgeMs: number | null;
  /** consensus messages received from the peer */
  messages: number;
}

/** Consensus progress (aggregator/consensus/transport/host-stats.ts), for /metrics and the status. */
export interface ConsensusSnapshot {
  /** rounds fully executed while running */
  rounds: number;
  /** rounds per second over the last 10 s */
  roundsPerSec: number;
  catchUpRequests: number;
  /** blocks executed from a peer's certificate rather than this member's own quorum */
  catchUpBlocks: number;
  signatureChecks: number;
  /** peers a message came from in the last 10 s */
  heardFrom: number;
  lagging: number;
  /** slots waiting for a decision */
  waitingSlots: number;
}

export interface LedgerSnapshot {
  height: number;
  round: number;
  members: MemberSnapshot[];
  quorum: number;
  /** members reachable now, this one included */
  reachable: number;
  viewChanges: Record<string, number>;
  consensus: ConsensusSnapshot;
  faults: Record<string, number>;
  rejectedMessages: number;
  liveBlocks: number;
  lastCommitAgeMs: number | null;
  /** agent envelopes accepted here and not yet committed */
  outboxDepth: number;
  market: {
    intervalMs: number;
    openOrders: number;
    openTrades: number;
    lastClearingPriceMcPerKwh: number | null;
    intervals: IntervalMarket[];
    tradedWh: number;
    tradedMc: number;
    settlements: Record<string, number>;
  };
  transactions: Record<string, number>;
  events: Record<string, number>;
  refusals: { type: string; code: string; count: number }[];
  loans: { byStatus: Record<string, number>; outstandingMc: number };
  recent: RecentEvent[];
}

export interface AggregatorSnapshot {
  id: string;
  at: number;
  startedAt: number;
  broker: {
    url: string;
    embedded: boolean;
    connected: boolean;
    /** connected clients by role; null with an external broker (it does not tell) */
    connections: Record<string, number> | null;
    refusals: Record<string, number>;
  };
  /** agents connected to this aggregator's broker; null with an external broker */
  agentsOnline: string[] | null;
  ingest: {
    accepted: number;
    duplicates: number;
    refused: Record<string, number>;
    /** envelopes whose signature a verify thread checked (the others: on the event loop) */
    verifiedOnThreads: number;
  };
  ledger: LedgerSnapshot | null;
}

export function takeSnapshot(
  s: AggregatorSources,
  activity: LedgerActivity,
  startedAt: number,
  now: number,
): AggregatorSnapshot {
  const conns = s.connections?.();
  const byRole: Record<string, number> = {};
  for (const c of conns ?? []) byRole[c.role] = (byRole[c.role] ?? 0) + 1;
  const stats = s.ingest.stats;
  return {
    id: s.id,
    at: now,
    startedAt,
    broker: {
      url: s.url,
      embedded: s.connections !== undefined,
      connected: s.brokerConnected(),
      connections: conns === undefined ? null : byRole,
      refusals: s.brokerRefusals?.() ?? {},
    },
    agentsOnline:
      conns === undefined
        ? null
        : [...new Set(conns.filter((c) => c.role === "agent").map((c) => c.id))].sort(),
    ingest: {
      accepted: stats.accepted,
      duplicates: stats.duplicates,
      refused: { ...stats.rejected },
      verifiedOnThreads: stats.verifiedOnThreads,
    },
    ledger: s.ledger === undefined ? null : ledgerSnapshot(s.id, s.ledger, activity, now),
  };
}

function ledgerSnapshot(self: string, l: RunningLedger, a: LedgerActivity, now: number): LedgerSnapshot {
  const node = l.node;
  const ids = node.machine.genesis.authorities.map((m) => m.id);
  const n = ids.length;
  const connected = new Set(l.link.connectedPeers());
  const hostStats = node.host.stats;
  const height = node.height;
  const members = ids.map((id): MemberSnapshot => {
    if (id === self) return { id, state: "self", height, lastMessageAgeMs: 0, messages: 0 };
    const p = hostStats.peers.get(id);
    const age = p === undefined ? null : now - p.lastAt;
    const position = p?.position ?? 0;
    const state: MemberState = connected.has(id) ? hostStats.peerState(id, now, height) : "unreachable";
    return { id, state, height: position, lastMessageAgeMs: age, messages: p?.messages ?? 0 };
  });
  const state = node.machine.state;
  const byStatus: Record<string, number> = {};
  let outstandingMc = 0;
  for (const loan of Object.values(node.machine.credit().loans)) {
    byStatus[loan.status] = (byStatus[loan.status] ?? 0) + 1;
    if (loan.status === "active" || loan.status === "defaulted") outstandingMc += loan.balance;
  }
  return {
    height,
    round: a.round,
    members,
    quorum: faultTolerance(n).quorum,
    reachable: 1 + ids.filter((id) => id !== self && connected.has(id)).length,
    viewChanges: { ...hostStats.viewChanges },
    consensus: {
      rounds: hostStats.rounds,
      roundsPerSec: hostStats.roundRate(now),
      catchUpRequests: hostStats.catchUp.requests,
      catchUpBlocks: hostStats.catchUp.blocks,
      signatureChecks: hostStats.signatureChecks,
      heardFrom: hostStats.heardFrom(now).length,
      lagging: members.filter((m) => m.state === "lagging").length,
      waitingSlots: node.host.waitingSlots(),
    },
    faults: { ...hostStats.faults },
    rejectedMessages: hostStats.rejected,
    liveBlocks: a.liveBlocks,
    lastCommitAgeMs: a.lastLiveCommitAt === null ? null : now - a.lastLiveCommitAt,
    outboxDepth: l.outbox.size(),
    market: {
      intervalMs: node.machine.genesis.trading.intervalMs,
      openOrders: state.orders.size,
      openTrades: state.trades.size,
      lastClearingPriceMcPerKwh: state.lastClearingPriceMcPerKwh,
      intervals: [...a.intervals],
      tradedWh: a.tradedWh,
      tradedMc: a.tradedMc,
      settlements: Object.fromEntries(a.settlements),
    },
    transactions: Object.fromEntries(a.applied),
    events: Object.fromEntries(a.events),
    refusals: a.refusals(),
    loans: { byStatus, outstandingMc },
    recent: [...a.recent],
  };
}
