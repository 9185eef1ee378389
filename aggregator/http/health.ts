import type { Health } from "../../protocol/http/routes.js";
import type { AggregatorSnapshot } from "./snapshot.js";

/** Envelopes waiting this long with no block committed mean that consensus is stuck. */
export const STALL_AFTER_MS = 30_000;

/**
 * The aggregator does its job while it holds its broker connection and, as a consortium member, while
 * a quorum of members is reachable and consensus moves whenever there is work: an idle consortium with
 * nothing to order is healthy, envelopes waiting for 30 s with no block committed are not.
 */
export function aggregatorHealth(s: AggregatorSnapshot): Health {
  if (!s.broker.connected) return { ok: false, reason: `no connection to the broker at ${s.broker.url}` };
  const l = s.ledger;
  if (l === null) return { ok: true, reason: "broker connected; ingest only (no consortium configured)" };
  if (l.reachable < l.quorum)
    return {
      ok: false,
      reason: `only ${l.reachable} of ${l.members.length} members reachable, a quorum is ${l.quorum}`,
    };
  const age = l.lastCommitAgeMs;
  const sinceStart = s.at - s.startedAt;
  if (l.outboxDepth > 0 && (age ?? sinceStart) > STALL_AFTER_MS)
    return {
      ok: false,
      reason: `consensus stalled: ${l.outboxDepth} envelopes waiting, ${age === null ? "no block committed since start" : `last block ${(age / 1000).toFixed(1)} s ago`}`,
    };
  return {
    ok: true,
    reason: `consensus moving: height ${l.height}, ${l.reachable} of ${l.members.length} members reachable${age === null ? "" : `, last block ${(age / 1000).toFixed(1)} s ago`}`,
  };
}
