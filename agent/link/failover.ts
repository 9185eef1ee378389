/**
 * Which aggregator's broker the agent uses: a pure decision over connection events and time, so that
 * the rule is tested without sockets or timers (the MQTT link feeds it and acts on its answers).
 *
 * Brokers are ordered, the home first (index 0). While the current broker stays unreachable for
 * `failoverAfterMs` (the first failure starts the clock; a successful connect stops it) the policy moves
 * to the next broker, round robin, and starts the clock again. Away from home, it asks for a probe of
 * the home broker every `homeRetryMs`; a probe that succeeds moves the agent back home.
 */
export interface FailoverTiming {
  failoverAfterMs: number;
  homeRetryMs: number;
}

export type FailoverEvent =
  | { kind: "connected"; at: number }
  | { kind: "down"; at: number }
  | { kind: "home-probe"; up: boolean; at: number };

export interface FailoverDecision {
  /** the broker to connect to (or stay on) */
  index: number;
  /** set when the decision changes broker */
  switched?: { from: number; to: number; reason: "unreachable" | "home-back" };
}

export class FailoverPolicy {
  private cur = 0;
  private downSince: number | undefined;
  private lastHomeProbe: number;

  constructor(
    private readonly n: number,
    private readonly t: FailoverTiming,
    start: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`at least one broker, got ${n}`);
    this.lastHomeProbe = start;
  }

  get current(): number {
    return this.cur;
  }

  get atHome(): boolean {
    return this.cur === 0;
  }

  /** Applies a connection event; the answer says where to be now. */
  on(e: FailoverEvent): FailoverDecision {
    switch (e.kind) {
      case "connected":
        this.downSince = undefined;
        return { index: this.cur };
      case "down":
        this.downSince ??= e.at;
        return this.decide(e.at);
      case "home-probe":
        this.lastHomeProbe = e.at;
        if (!e.up || this.cur === 0) return { index: this.cur };
        return this.move(0, e.at, "home-back");
    }
  }

  /** Before each reconnect attempt: fail over once the current broker has been down long enough. */
  decide(now: number): FailoverDecision {
    if (this.n > 1 && this.downSince !== undefined && now - this.downSince >= this.t.failoverAfterMs)
      return this.move((this.cur + 1) % this.n, now, "unreachable");
    return { index: this.cur };
  }

  /** Away from home, whether a probe of the home broker is due. */
  homeProbeDue(now: number): boolean {
    return this.cur !== 0 && now - this.lastHomeProbe >= this.t.homeRetryMs;
  }

  private move(to: number, now: number, reason: "unreachable" | "home-back"): FailoverDecision {
    const from = this.cur;
    this.cur = to;
    // The new broker gets its own full grace period; a failed first attempt there starts its clock.
    this.downSince = reason === "unreachable" ? now : undefined;
    if (to !== 0) this.lastHomeProbe = now;
    return { index: to, switched: { from, to, reason } };
  }
}
