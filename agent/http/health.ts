import type { Health } from "../../protocol/http/routes.js";
import type { AgentSnapshot } from "../runtime/snapshot.js";

/** Readings count as flowing while the last tick that stored some is at most this old. */
export function healthWindowMs(intervalMs: number): number {
  return Math.max(3 * intervalMs, 5000);
}

/**
 * The agent does its job while readings are being stored: the broker may be away for days (the outbox
 * holds them), but a meter bus that went silent is a failure the operator must see.
 */
export function agentHealth(s: AgentSnapshot): Health {
  const window = healthWindowMs(s.intervalMs);
  const failing = s.meters.filter((m) => m.failing !== null).map((m) => `${m.id} ${m.failing}`);
  const why = failing.length > 0 ? ` (failing: ${failing.join(", ")})` : "";
  if (s.lastStoredAt === null) return { ok: false, reason: `no reading stored yet${why}` };
  const age = s.at - s.lastStoredAt;
  if (age > window) return { ok: false, reason: `no reading stored for ${(age / 1000).toFixed(1)} s${why}` };
  return { ok: true, reason: `readings flowing: last stored ${(age / 1000).toFixed(1)} s ago${why}` };
}
