import type { AgentSnapshot } from "../runtime/snapshot.js";
import { agentHealth } from "./health.js";

/** The agent's /api/status document (docs/AGENT.md): the snapshot, with ages in ms and the health verdict. */
export function agentStatus(s: AgentSnapshot) {
  const age = (t: number | null) => (t === null ? null : s.at - t);
  return {
    id: s.id,
    role: "agent",
    time: s.at,
    uptimeMs: s.at - s.startedAt,
    intervalMs: s.intervalMs,
    health: agentHealth(s),
    lastReadingAgeMs: age(s.lastStoredAt),
    meters: s.meters.map((m) => ({
      id: m.id,
      readings: m.readings,
      failures: m.failures,
      failing: m.failing,
      lastReadingAgeMs: age(m.lastStoredAt),
      driver: m.driver,
      latest: m.latest,
    })),
    outbox: {
      depth: s.outbox.outboxDepth,
      deadLetters: s.outbox.deadLetters,
      lastReceiptAgeMs: age(s.outbox.lastReceiptAt),
    },
    receipts: s.runtime,
    mqtt: s.link,
    failover: {
      home: s.link.home,
      current: s.link.broker,
      away: s.link.broker !== s.link.home,
      failovers: s.link.failovers,
    },
    homeAssistant: s.homeAssistant,
  };
}
