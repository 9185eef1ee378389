import type { LinkStats } from "../link/mqtt-link.js";
import type { DriverCounters, MeterReading } from "../meters/types.js";

/** One meter as the agent sees it now: its driver's counters and what the agent stored from it. */
export interface MeterSnapshot {
  id: string;
  /** readings of this meter stored since the process started */
  readings: number;
  /** reads that failed since the process started */
  failures: number;
  /** agent clock when its last reading was stored; null before the first */
  lastStoredAt: number | null;
  /** code of the failure going on, null while the meter answers */
  failing: string | null;
  driver: DriverCounters;
  latest: MeterReading | null;
}

/**
 * What the agent's HTTP endpoint (agent/http) reads on each request: taken from the runtime in one call,
 * so that /metrics, /api/status and /healthz describe the same moment.
 */
export interface AgentSnapshot {
  id: string;
  at: number;
  startedAt: number;
  intervalMs: number;
  /** agent clock when the last tick stored readings; null before the first */
  lastStoredAt: number | null;
  meters: MeterSnapshot[];
  runtime: {
    ticks: number;
    readFailures: number;
    receipts: number;
    badReceipts: number;
    acked: number;
    deadLettered: number;
    foreignDown: number;
  };
  outbox: { outboxDepth: number; deadLetters: number; lastReceiptAt: number | null };
  link: LinkStats & { home: string };
  homeAssistant: { enabled: boolean; mirror: { url: string; connected: boolean } | null };
}
