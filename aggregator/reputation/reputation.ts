import { sha256Hex } from "../../protocol/hash.js";
import { mulDivFloor, PPM } from "../state/arith.js";
import type { TradingParams } from "../state/config.js";
import type { Reputation } from "../state/types.js";

/**
 * HO-TRAD's active reputation value, reconstructed (the seed lost its equations; docs/TRADING.md gives
 * the rationale). All values are ppm integers so that every replica computes identical bits.
 */

const DAY_MS = 86_400_000;

export function initialReputation(p: TradingParams["rep"]): Reputation {
  return {
    activity: p.initialActivity,
    reputation: p.initialReputation,
    active: mulDivFloor(p.beta, p.initialActivity, PPM) + mulDivFloor(p.delta, p.initialReputation, PPM),
    beta: p.beta,
    delta: p.delta,
    lastDir: 0,
    streak: 0,
    lastActiveMs: null,
  };
}

/** Trade impact factor ξ = min(M / B, 1) in ppm; with no balance the trade is all the entity has. */
export function impactFactor(amountMc: number, balanceMc: number): number {
  if (balanceMc <= 0 || amountMc >= balanceMc) return PPM;
  return mulDivFloor(amountMc, PPM, balanceMc);
}

/**
 * The LA's descent parameter α ∈ (1, 5), drawn from the state's rolling digest so that every replica
 * draws the same value and nobody can pick it after seeing the outcome.
 */
export function drawAlpha(digest: string, agent: string, timeMs: number): number {
  const h = sha256Hex(`gridlet/alpha\n${digest}\n${agent}\n${timeMs}`);
  const u = Number.parseInt(h.slice(0, 12), 16);
  return PPM + 1 + (u % (4 * PPM - 1));
}

/**
 * Moves the active value by β·Δactivity + δ·Δreputation and damps β and δ while it keeps moving one
 * way, so that a long streak (of wins or of losses) changes the standing ever more slowly.
 */
function move(r: Reputation, dActivity: number, dReputation: number, p: TradingParams["rep"]): void {
  const before = r.active;
  const step = mulDivFloor(r.beta, Math.abs(dActivity), PPM) * Math.sign(dActivity);
  const stepR = mulDivFloor(r.delta, Math.abs(dReputation), PPM) * Math.sign(dReputation);
  r.active = Math.max(0, before + step + stepR);
  const dir = Math.sign(r.active - before) as -1 | 0 | 1;
  if (dir === 0) return;
  if (dir === r.lastDir) {
    r.streak += 1;
  } else {
    r.lastDir = dir;
    r.streak = 1;
    r.beta = p.beta;
    r.delta = p.delta;
  }
  if (r.streak >= p.dampingStreak) {
    r.beta = Math.max(p.minWeight, mulDivFloor(r.beta, p.dampingFactor, PPM));
    r.delta = Math.max(p.minWeight, mulDivFloor(r.delta, p.dampingFactor, PPM));
  }
}

/** Silence decay when an entity trades again after T whole days: activity falls by α·T, floor 0. */
export function touchActivity(
  r: Reputation,
  timeMs: number,
  alpha: number | (() => number),
  p: TradingParams["rep"],
): void {
  if (r.lastActiveMs !== null && timeMs > r.lastActiveMs) {
    const days = Math.floor((timeMs - r.lastActiveMs) / DAY_MS);
    if (days >= 1) {
      // drawn only when needed: hashing for every trader would dominate a large clearing
      const a = typeof alpha === "function" ? alpha() : alpha;
      const next = Math.max(0, r.activity - a * days);
      const d = next - r.activity;
      r.activity = next;
      move(r, d, 0, p);
    }
  }
  if (r.lastActiveMs === null || timeMs > r.lastActiveMs) r.lastActiveMs = timeMs;
}

/** A completed trade raises activity and reputation by ξ. */
export function recordCompletion(r: Reputation, xi: number, p: TradingParams["rep"]): void {
  r.activity += xi;
  r.reputation += xi;
  move(r, xi, xi, p);
}

/** A violation lowers the reputation value by penalty·(1 + ξ), floor 0. */
export function recordViolation(r: Reputation, xi: number, p: TradingParams["rep"]): void {
  const drop = mulDivFloor(p.violationPenalty, PPM + xi, PPM);
  const next = Math.max(0, r.reputation - drop);
  const d = next - r.reputation;
  r.reputation = next;
  move(r, 0, d, p);
}
