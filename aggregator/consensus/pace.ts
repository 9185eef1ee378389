/** The consortium size the configured slot timeout is for; beyond it the timeout grows in proportion. */
export const SLOT_TIMEOUT_MEMBERS = 7;

/**
 * The slot timeout the pace works from: the configured one for up to 7 members, in proportion to n beyond
 * (a round costs each member about 3n messages): 500 ms becomes 1.1 s at 16 members and 3.6 s at 51.
 */
export function slotTimeoutFor(configured: number, n: number): number {
  return Math.round((configured * Math.max(n, SLOT_TIMEOUT_MEMBERS)) / SLOT_TIMEOUT_MEMBERS);
}

/**
 * The slot timer's tick, adapted to the pace the consortium keeps (liveness under starvation): each
 * decided slot gives a sample, the time from its timer's start to its decision (in whatever view it
 * decided); the tick is twice the 2/3 quantile of the recent samples, kept between half the configured
 * slot timeout and `MAX_FACTOR` times it. A slot gives up on its view after two ticks (more in later
 * views), so a view change needs a slot four times slower than two thirds of its recent peers. When the
 * whole machine is slow (CPU-starved processes, a slow disk, 16 processes starting on two cores) the
 * samples grow, the slots that had to change view the most, and nobody times out for nothing any more;
 * when one member is slow, its slots are the tail the quantile leaves out, so they time out, their lane is
 * passed over, and the others keep their pace. Samples more than `HORIZON` slot timeouts older than the
 * newest one no longer count (a partition's late decisions must not slow the failure detection once the
 * consortium decides quickly again); while nothing is decided, the tick holds, since a stall is no sign
 * that the consortium got faster. With fewer than `MIN_SAMPLES` samples, the tick is the slot timeout
 * itself, twice the fast tick (a consortium that starts is often slow), doubled by each slot that gives up
 * its view before then (at most once a tick): 51 processes starting on two cores take seconds for their
 * first round, and a 500 ms tick would keep them in view changes, each costing every member n² signature
 * checks, so that no slot ever decides to give a sample. Pure: the caller passes the times.
 */
export const MAX_FACTOR = 8;
export const HORIZON = 16;
const MIN_SAMPLES = 8;

export class Pace {
  private readonly samples: { at: number; ms: number }[] = [];
  private tick: number;
  private stale = false;
  /** the tick while there are too few samples: the slot timeout, doubled by timeouts */
  private startTick: number;
  private lastBackoff = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly slotTimeoutMs: number,
    /** samples kept at most: about four rounds of slots */
    private readonly keep: number,
  ) {
    this.tick = Math.max(1, slotTimeoutMs);
    this.startTick = this.tick;
  }

  /** The tick now: it moves only when a decision comes in. */
  tickMs(): number {
    if (!this.stale) return this.tick;
    this.stale = false;
    if (this.samples.length < MIN_SAMPLES) {
      this.tick = this.startTick;
      return this.tick;
    }
    const sorted = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    const typical = sorted[Math.floor((sorted.length * 2) / 3)];
    const floor = Math.max(1, this.slotTimeoutMs >> 1);
    this.tick = Math.round(Math.min(this.slotTimeoutMs * MAX_FACTOR, Math.max(floor, 2 * typical)));
    return this.tick;
  }

  /** A slot gave up its view at `now`: without enough samples to go by, the tick was too short. */
  timedOut(now: number): void {
    if (this.samples.length >= MIN_SAMPLES || now - this.lastBackoff < this.tickMs()) return;
    this.lastBackoff = now;
    this.startTick = Math.min(Math.max(1, this.slotTimeoutMs) * MAX_FACTOR, this.startTick * 2);
    this.stale = true;
  }

  /** A slot decided `ms` after its timer started, at `now`. */
  observe(ms: number, now: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.samples.push({ at: now, ms });
    if (this.samples.length > Math.max(MIN_SAMPLES, this.keep)) this.samples.shift();
    const horizon = HORIZON * this.slotTimeoutMs;
    while (this.samples.length > 0 && now - this.samples[0].at > horizon) this.samples.shift();
    this.stale = true;
  }
}
