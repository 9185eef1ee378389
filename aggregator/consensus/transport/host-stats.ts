import type { Message } from "../messages.js";
import type { Output } from "../types.js";

/** Why a replica moved a slot to a new view (PBFT §4.4 and our join rule). */
export type ViewChangeCause =
  /** the slot's leader was silent (or too slow) until patience ran out */
  | "timeout"
  /** the slot's round was decided without it and nobody had its proposal: its leader is gone */
  | "orphan"
  /** the leader signed two different proposals for the slot */
  | "equivocation"
  /** f+1 members were already in a later view, so at least one honest one timed out */
  | "joined";

/** What the host was doing when the core produced its outputs. */
export type StepCause = "message" | "timer" | "submit" | "start";

/** A peer is "silent" when nothing came from it for this long, "lagging" when this many rounds behind. */
export const SILENT_AFTER_MS = 10_000;
export const LAGGING_ROUNDS = 4;

/** How a peer looks from here, from its own messages (the link adds "unreachable"). */
export type PeerState = "in-step" | "lagging" | "silent";

export interface PeerProgress {
  /** host clock when a message from the peer last arrived */
  lastAt: number;
  /** the highest ledger position the peer was seen deciding or voting on */
  position: number;
  /** messages received from the peer */
  messages: number;
}

export interface ViewChangeEvent {
  at: number;
  /** ledger position of the slot */
  seq: number;
  /** the view moved to */
  view: number;
  cause: ViewChangeCause;
}

/** Round completions kept for the round rate (a ring: the oldest fall out). */
const ROUND_RING = 1024;
const RECENT_VIEW_CHANGES = 32;

/**
 * Counters the consensus shell keeps for operators (gridlet_consensus_* metrics, the dashboard, the
 * progress log of watch.ts): rounds executed, view changes by cause, faults by kind, catch-up, signature
 * checks, and each peer's progress as its own messages show it. Observes the core's inputs and outputs;
 * decides nothing.
 */
export class HostStats {
  readonly viewChanges: Record<ViewChangeCause, number> = {
    timeout: 0,
    orphan: 0,
    equivocation: 0,
    joined: 0,
  };
  readonly faults = { equivocation: 0, divergence: 0 };
  rejected = 0;
  readonly peers = new Map<string, PeerProgress>();
  /** rounds fully executed while running (the replay at start not counted) */
  rounds = 0;
  /** blocks executed while running */
  blocks = 0;
  /** host clock of the last block executed while running */
  lastCommitAt: number | undefined;
  /** catch-up: fetch requests sent, and blocks executed from a peer's certificate (not our own quorum) */
  readonly catchUp = { requests: 0, blocks: 0 };
  /** signatures the core had checked (counted by the verifier the owner wraps, see countingVerifier) */
  signatureChecks = 0;
  /** the latest view changes, oldest first */
  readonly recentViewChanges: ViewChangeEvent[] = [];
  private readonly roundTimes: number[] = [];

  constructor(private readonly members: number) {}

  /** A peer's message (already authenticated by the link): how far along it is. */
  message(msg: Message, at: number): void {
    if (typeof msg?.from !== "string") return;
    const p = this.peers.get(msg.from) ?? { lastAt: at, position: 0, messages: 0 };
    p.lastAt = at;
    p.messages += 1;
    const pos = this.position(msg);
    if (pos !== undefined && pos > p.position) p.position = pos;
    this.peers.set(msg.from, p);
  }

  outputs(outputs: readonly Output[], cause: StepCause, now = 0): void {
    let equivocation = false;
    for (const o of outputs) {
      if (o.type === "fault") {
        this.faults[o.kind] += 1;
        if (o.kind === "equivocation") equivocation = true;
      } else if (o.type === "rejected") this.rejected += 1;
    }
    if (cause === "start") return;
    for (const o of outputs) {
      if (o.type === "send" && o.msg.t === "fetch") this.catchUp.requests += 1;
      else if (o.type === "commit") this.committed(o, now);
    }
    if (cause === "submit") return;
    for (const o of outputs) {
      if (o.type !== "vote" || o.record.kind !== "vc") continue;
      const why: ViewChangeCause =
        o.orphan === true
          ? "orphan"
          : cause === "timer"
            ? "timeout"
            : equivocation
              ? "equivocation"
              : "joined";
      this.viewChanges[why] += 1;
      this.recentViewChanges.push({ at: now, seq: o.record.seq, view: o.record.view, cause: why });
      if (this.recentViewChanges.length > RECENT_VIEW_CHANGES) this.recentViewChanges.shift();
    }
  }

  private committed(o: Output & { type: "commit" }, now: number): void {
    this.blocks += 1;
    this.lastCommitAt = now;
    if (o.adopted === true) this.catchUp.blocks += 1;
    if (o.entry.seq % this.members === this.members - 1) {
      this.rounds += 1;
      this.roundTimes.push(now);
      if (this.roundTimes.length > ROUND_RING) this.roundTimes.shift();
    }
  }

  /** Rounds completed per second over the last `windowMs` (at most the last 1 024 rounds are kept). */
  roundRate(now: number, windowMs = 10_000): number {
    let count = 0;
    for (let i = this.roundTimes.length - 1; i >= 0 && now - this.roundTimes[i] <= windowMs; i--) count++;
    return count / (windowMs / 1000);
  }

  /**
   * Each peer's state from its messages, given this member's own height: silent when nothing came from
   * it for SILENT_AFTER_MS, lagging when its messages show it LAGGING_ROUNDS rounds or more behind.
   */
  peerState(id: string, now: number, height: number): PeerState {
    const p = this.peers.get(id);
    if (p === undefined || now - p.lastAt > SILENT_AFTER_MS) return "silent";
    if (height - p.position > LAGGING_ROUNDS * this.members) return "lagging";
    return "in-step";
  }

  /** Peers heard from within SILENT_AFTER_MS. */
  heardFrom(now: number): string[] {
    return [...this.peers]
      .filter(([, p]) => now - p.lastAt <= SILENT_AFTER_MS)
      .map(([id]) => id)
      .sort();
  }

  /** Messages reach the host unchecked (the core validates them): every field is read defensively. */
  private position(m: Message): number | undefined {
    const int = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
    const slot = (round: unknown, index: unknown) => {
      const r = int(round);
      const i = int(index);
      return r === undefined || i === undefined || i >= this.members ? undefined : r * this.members + i;
    };
    switch (m.t) {
      case "prepare":
      case "commit":
      case "vc":
      case "nv":
        return slot(m.round, m.index);
      case "pp":
        return slot(m.block?.header?.round, m.block?.header?.index);
      case "votes":
      case "vcs": {
        const list: unknown = m.t === "votes" ? m.votes : m.vcs;
        let best: number | undefined;
        for (const v of Array.isArray(list) ? list : []) {
          const p = slot(v?.round, v?.index);
          if (p !== undefined && (best === undefined || p > best)) best = p;
        }
        return best;
      }
      case "ckpt": {
        const r = int(m.round);
        return r === undefined ? undefined : r * this.members;
      }
      case "decided":
        return int(m.seq);
      case "fetch":
        return int(m.fromSeq);
      default:
        return undefined;
    }
  }
}
