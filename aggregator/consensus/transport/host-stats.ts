import type { Message } from "../messages.js";
import type { Output } from "../types.js";

/** Why a replica moved a slot to a new view (PBFT §4.4 and our join rule). */
export type ViewChangeCause =
  /** the slot's leader was silent (or too slow) until patience ran out */
  | "timeout"
  /** the leader signed two different proposals for the slot */
  | "equivocation"
  /** f+1 members were already in a later view, so at least one honest one timed out */
  | "joined";

/** What the host was doing when the core produced its outputs. */
export type StepCause = "message" | "timer" | "submit" | "start";

export interface PeerProgress {
  /** host clock when a message from the peer last arrived */
  lastAt: number;
  /** the highest ledger position the peer was seen deciding or voting on */
  position: number;
}

/**
 * Counters the consensus shell keeps for operators (gridlet_consensus_* metrics, the dashboard): view
 * changes by cause, faults by kind, and each peer's progress as its own messages show it. Observes the
 * core's inputs and outputs; decides nothing.
 */
export class HostStats {
  readonly viewChanges: Record<ViewChangeCause, number> = { timeout: 0, equivocation: 0, joined: 0 };
  readonly faults = { equivocation: 0, divergence: 0 };
  rejected = 0;
  readonly peers = new Map<string, PeerProgress>();

  constructor(private readonly members: number) {}

  /** A peer's message (already authenticated by the link): how far along it is. */
  message(msg: Message, at: number): void {
    if (typeof msg?.from !== "string") return;
    const p = this.peers.get(msg.from) ?? { lastAt: at, position: 0 };
    p.lastAt = at;
    const pos = this.position(msg);
    if (pos !== undefined && pos > p.position) p.position = pos;
    this.peers.set(msg.from, p);
  }

  outputs(outputs: readonly Output[], cause: StepCause): void {
    let equivocation = false;
    for (const o of outputs) {
      if (o.type === "fault") {
        this.faults[o.kind] += 1;
        if (o.kind === "equivocation") equivocation = true;
      } else if (o.type === "rejected") this.rejected += 1;
    }
    if (cause === "start" || cause === "submit") return;
    for (const o of outputs) {
      if (o.type !== "vote" || o.record.kind !== "vc") continue;
      const why: ViewChangeCause = cause === "timer" ? "timeout" : equivocation ? "equivocation" : "joined";
      this.viewChanges[why] += 1;
    }
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
