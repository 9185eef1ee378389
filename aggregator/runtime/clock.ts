import { describeError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";

/** A periodic duty of the aggregator process, run by the one DutyClock. */
export type DutyName =
  | "node-duties"
  | "ledger-pump"
  | "announce"
  | "register-agents"
  | "revocations"
  | "retention"
  | "watchdog";

interface Duty {
  name: DutyName;
  everyMs: number;
  run: (now: number) => void;
  last: number;
}

/**
 * The one timer of the aggregator process. Every periodic duty (the node's system transactions, the
 * ledger outbox pump, market announcements, agent registration, the revocation file) is registered here
 * by name and period, so the process has one place that says what runs when, and one thing to stop.
 * A duty that throws is logged and runs again on its next period; the others are not affected.
 */
export class DutyClock {
  private readonly duties: Duty[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
    /** the clock's own resolution: no duty runs more often than this */
    private readonly resolutionMs = 250,
  ) {}

  every(name: DutyName, everyMs: number, run: (now: number) => void): void {
    if (this.duties.some((d) => d.name === name)) throw new Error(`duty ${name} registered twice`);
    this.duties.push({
      name,
      everyMs: Math.max(everyMs, this.resolutionMs),
      run,
      last: Number.NEGATIVE_INFINITY,
    });
  }

  /** Runs every duty that is due now; called by the timer, and directly by tests. */
  turn(): void {
    const t = this.now();
    for (const d of this.duties) {
      // half a resolution of slack: a 250 ms duty on a 250 ms timer runs on every turn despite jitter
      if (t - d.last + this.resolutionMs / 2 < d.everyMs) continue;
      d.last = t;
      try {
        d.run(t);
      } catch (e) {
        this.log.error("duty failed", { duty: d.name, error: describeError(e) });
      }
    }
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.turn(), this.resolutionMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  names(): DutyName[] {
    return this.duties.map((d) => d.name);
  }
}
