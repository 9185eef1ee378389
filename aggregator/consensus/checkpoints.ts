import type { CheckpointRecord } from "../ledger/store.js";
import { type Checkpoint, checkpointBytes } from "./messages.js";
import type { Output, ReplicaConfig, ReplicaDeps } from "./types.js";

/**
 * Checkpoint votes: every K rounds each replica signs (rounds executed, state hash, ledger link); 2f+1
 * matching signatures make the checkpoint stable. A stable checkpoint ahead of us tells us to catch up; one
 * that disagrees with our own state hash is a divergence to raise loudly, never to paper over.
 */
export class CheckpointTracker {
  private readonly votes = new Map<number, Map<string, Checkpoint>>();
  private readonly mine = new Map<number, Checkpoint>();
  private readonly done = new Set<number>();
  stableRound = 0;

  constructor(
    private readonly config: ReplicaConfig,
    private readonly deps: ReplicaDeps,
    private readonly quorum: number,
  ) {}

  own(round: number, stateHash: string, link: string): Output[] {
    const sig = this.deps.signer.sign(checkpointBytes(round, stateHash, link));
    const c: Checkpoint = { t: "ckpt", from: this.config.self, round, stateHash, link, sig };
    this.mine.set(round, c);
    const out: Output[] = [{ type: "send", to: "*", msg: c }];
    return out.concat(this.add(c));
  }

  receive(c: Checkpoint, base: number): Output[] {
    if (!this.config.members.includes(c.from) || !Number.isSafeInteger(c.round) || c.round <= 0) {
      return [
        { type: "rejected", from: String(c.from), reason: "checkpoint from a non-member or of a bad round" },
      ];
    }
    if (c.round <= this.stableRound || this.votes.get(c.round)?.has(c.from)) return [];
    if (
      c.round % this.config.checkpointInterval !== 0 ||
      c.round > base + 64 * this.config.checkpointInterval
    ) {
      return [{ type: "rejected", from: c.from, reason: "checkpoint at an unexpected round" }];
    }
    if (!this.deps.verifier.verify(c.from, checkpointBytes(c.round, c.stateHash, c.link), c.sig)) {
      return [{ type: "rejected", from: c.from, reason: "bad checkpoint signature" }];
    }
    return this.add(c);
  }

  private add(c: Checkpoint): Output[] {
    let m = this.votes.get(c.round);
    if (m === undefined) {
      m = new Map();
      this.votes.set(c.round, m);
    }
    m.set(c.from, c);
    if (this.done.has(c.round)) return [];
    const matching = [...m.values()].filter((x) => x.stateHash === c.stateHash && x.link === c.link);
    if (matching.length < this.quorum) return [];
    this.done.add(c.round);
    const out: Output[] = [];
    const own = this.mine.get(c.round);
    if (own !== undefined && (own.stateHash !== c.stateHash || own.link !== c.link)) {
      out.push({
        type: "fault",
        kind: "divergence",
        member: this.config.self,
        detail: `our state at round ${c.round} differs from the stable checkpoint`,
      });
    }
    const record: CheckpointRecord = {
      round: c.round,
      stateHash: c.stateHash,
      link: c.link,
      sigs: matching.slice(0, this.quorum).map((x) => ({ from: x.from, sig: x.sig })),
    };
    out.push({ type: "checkpoint", record });
    if (c.round > this.stableRound) this.stableRound = c.round;
    for (const r of this.votes.keys()) if (r < this.stableRound) this.votes.delete(r);
    for (const r of this.mine.keys()) if (r < this.stableRound) this.mine.delete(r);
    for (const r of this.done) if (r < this.stableRound) this.done.delete(r);
    return out;
  }
}
