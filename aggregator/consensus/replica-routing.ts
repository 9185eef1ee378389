import {
  type Block,
  checkBlock,
  checkCertificate,
  type LedgerEntry,
  type QuorumCertificate,
} from "../ledger/block.js";
import { isLedgerError } from "../ledger/errors.js";
import {
  batchLevels,
  batchProof,
  batchRoot,
  batchSigningBytes,
  levelsRoot,
  voteLeaf,
} from "../ledger/vote-batch.js";
import {
  type BatchedVote,
  type Message,
  type NewView,
  type PrePrepare,
  type ViewChange,
  type ViewChangeBatch,
  type Vote,
  type VoteBatch,
  viewChangeBatchBytes,
  viewChangeLeaf,
} from "./messages.js";
import { ReplicaViews } from "./replica-views.js";
import type { BatchRecord } from "./slot.js";

const FUTURE_ROUNDS = 3;
const MAX_BUFFERED = 20_000;
/** a batch holds at most this many votes per member of the consortium */
const MAX_BATCH_VOTES_PER_MEMBER = 64;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * How messages reach the per-slot machinery (ReplicaCore): slot messages routed to their slot, answered
 * when the slot is decided or buffered when it is beyond the window; vote batches checked once and
 * spread over their slots; decisions and blocks from peers (catch-up) checked against their
 * certificates. Replica (replica.ts) adds the inputs, proposing and execution.
 */
export abstract class ReplicaRouting extends ReplicaViews {
  /** positions decided from a peer's certificate rather than our own quorum, until executed */
  protected readonly adopted = new Set<number>();
  /** peers' vote batches whose signature was checked (a buffered batch comes back as the same object) */
  protected readonly verifiedBatches = new WeakMap<VoteBatch, BatchRecord>();

  /** Sends slot messages to their slot, or answers or buffers them when the slot is not active here. */
  protected routed(msg: PrePrepare | Vote | ViewChange | NewView, round: unknown, index: unknown): void {
    if (!Number.isSafeInteger(round) || !Number.isSafeInteger(index) || (index as number) < 0) {
      this.reject(msg.from, "slot message without a valid slot");
      return;
    }
    const r = round as number;
    const i = index as number;
    if (i >= this.n || r < 0) {
      this.reject(msg.from, "slot out of range");
      return;
    }
    if (!this.config.members.includes(msg.from)) {
      this.reject(msg.from, "message from a non-member");
      return;
    }
    if (r * this.n + i < this.nextSeq) {
      this.answerStale(msg, r * this.n + i);
      return;
    }
    if (r >= this.base + this.config.window) {
      this.buffer(r, msg);
      return;
    }
    const s = this.slot(r, i);
    if (s.decided !== undefined) {
      this.answerStale(msg, r * this.n + i);
      return;
    }
    switch (msg.t) {
      case "pp":
        this.onPrePrepare(s, msg);
        return;
      case "prepare":
      case "commit":
        this.onVote(s, msg);
        return;
      case "vc":
        this.onViewChange(s, msg);
        return;
      case "nv":
        this.onNewView(s, msg);
        return;
    }
  }

  /** A peer still working on a slot we decided: a view change or a re-send means it is stuck. */
  protected answerStale(msg: PrePrepare | Vote | ViewChange | NewView, seq: number): void {
    if (msg.t !== "vc" && msg.re !== true) return;
    this.sendDecision(msg.from, seq);
  }

  protected sendDecision(to: string, seq: number): void {
    if (!this.helps(to, seq) || !this.mayHelp(to, `decided:${seq}`)) return;
    const d = this.pending.get(seq) ?? this.slots.get(seq)?.decided ?? this.recent.get(seq);
    if (d !== undefined) {
      this.emit({
        type: "send",
        to,
        msg: { t: "decided", from: this.config.self, seq, block: d.block, qc: d.qc },
      });
    } else if (seq < this.nextSeq) {
      this.emit({ type: "serve", to, fromSeq: seq, limit: this.config.fetchLimit });
    }
  }

  /**
   * True when we are one of the f + 1 members that hand `to` the decision of `seq` when it is stuck there:
   * those after it in the ring, starting at an offset that turns with the position. One of them is honest
   * and up, and the others stay quiet: a member that fell behind in a round of 51 slots used to get each
   * decision from all 50 peers, 2 550 messages of 2f + 1 votes each, for one re-sent batch.
   */
  protected helps(to: string, seq: number): boolean {
    const n = this.n;
    const from = this.config.members.indexOf(to);
    if (from < 0 || n <= 1) return false;
    const distance = (this.myIndex - from + n) % n; // 1 … n − 1
    return (distance - 1 - (seq % (n - 1)) + (n - 1)) % (n - 1) <= this.f;
  }

  /**
   * A peer's vote batch: one signature check for all its votes, made only when some vote is news to a
   * slot open here. Votes of decided slots are answered with the decision when the batch is a re-send;
   * votes beyond the window keep the batch buffered (checked when its rounds open).
   */
  protected onVoteBatch(msg: VoteBatch): void {
    const votes = msg.votes;
    if (!this.config.members.includes(msg.from) || msg.from === this.config.self) {
      this.reject(String(msg.from), "vote batch from a non-member");
      return;
    }
    if (!Array.isArray(votes) || votes.length === 0 || votes.length > MAX_BATCH_VOTES_PER_MEMBER * this.n) {
      this.reject(msg.from, "vote batch empty or too large");
      return;
    }
    if (!votes.every((v) => this.batchedVoteShape(v))) {
      this.reject(msg.from, "vote batch with a malformed vote");
      return;
    }
    let fresh = false;
    const stale = new Set<number>();
    for (const v of votes) {
      const seq = v.round * this.n + v.index;
      const s = this.slots.get(seq);
      if (seq < this.nextSeq || s?.decided !== undefined) stale.add(seq);
      else if (this.active(v.round) && (s === undefined || this.news(s, v.kind, v.view, v.hash, msg.from)))
        fresh = true;
    }
    if (msg.re === true) for (const seq of [...stale].slice(0, this.n)) this.sendDecision(msg.from, seq);
    let rec = this.verifiedBatches.get(msg);
    if (fresh && rec === undefined) {
      const leaves = votes.map((v) => voteLeaf(v.kind, v.round, v.index, v.view, v.hash));
      if (!this.deps.verifier.verify(msg.from, batchSigningBytes(batchRoot(leaves)), msg.sig)) {
        this.reject(msg.from, "bad vote batch signature");
        return;
      }
      rec = { from: msg.from, sig: msg.sig, leaves };
      this.verifiedBatches.set(msg, rec);
    }
    // Deciding a slot can move the window on under this loop: each vote is routed as things stand.
    votes.forEach((v, at) => {
      if (rec === undefined || !this.active(v.round) || v.round * this.n + v.index < this.nextSeq) return;
      const s = this.slot(v.round, v.index);
      if (s.decided === undefined && this.news(s, v.kind, v.view, v.hash, msg.from))
        this.applyBatchedVote(s, v, msg.from, { batch: rec, at });
    });
    let later = Number.POSITIVE_INFINITY;
    for (const v of votes) if (v.round >= this.base + this.config.window) later = Math.min(later, v.round);
    if (later !== Number.POSITIVE_INFINITY) this.buffer(later, msg);
  }

  /**
   * A peer's view changes of several slots: one signature check for the batch, then each goes to its
   * slot as a view change of its own, with its proof (so that a new-view message can carry it), marked
   * as checked.
   */
  protected onViewChangeBatch(msg: ViewChangeBatch): void {
    const list = msg.vcs;
    if (!this.config.members.includes(msg.from) || msg.from === this.config.self) {
      this.reject(String(msg.from), "view-change batch from a non-member");
      return;
    }
    if (!Array.isArray(list) || list.length === 0 || list.length > this.config.window * this.n) {
      this.reject(msg.from, "view-change batch empty or too large");
      return;
    }
    let levels: Uint8Array[][];
    try {
      levels = batchLevels(list.map((v) => viewChangeLeaf(v)));
    } catch {
      this.reject(msg.from, "view-change batch with a malformed view change");
      return;
    }
    const root = levelsRoot(levels);
    if (
      typeof msg.sig !== "string" ||
      !this.deps.verifier.verify(msg.from, viewChangeBatchBytes(root), msg.sig)
    ) {
      this.reject(msg.from, "bad view-change batch signature");
      return;
    }
    for (const [at, v] of list.entries()) {
      const vc: ViewChange = {
        t: "vc",
        from: msg.from,
        round: v.round,
        index: v.index,
        view: v.view,
        prepared: v.prepared,
        sig: msg.sig,
        batch: batchProof(levels, at),
        ...(msg.re === true ? { re: true } : {}),
      };
      this.signatureChecked.add(vc);
      this.routed(vc, vc.round, vc.index);
    }
  }

  protected batchedVoteShape(v: BatchedVote): boolean {
    const nat = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
    return (
      typeof v === "object" &&
      v !== null &&
      (v.kind === "prepare" || v.kind === "commit") &&
      nat(v.round) &&
      nat(v.index) &&
      v.index < this.n &&
      nat(v.view) &&
      typeof v.hash === "string" &&
      HEX64.test(v.hash)
    );
  }

  /** Keeps a message for a round beyond the window (bounded) and asks its sender what we missed. */
  protected buffer(round: number, msg: Message): void {
    if (round < this.base + this.config.window * FUTURE_ROUNDS && this.bufferedCount < MAX_BUFFERED) {
      const list = this.future.get(round) ?? [];
      list.push(msg);
      this.future.set(round, list);
      this.bufferedCount++;
    }
    this.requestFetch(msg.from);
  }

  protected acceptDecision(seq: unknown, block: Block, qc: QuorumCertificate, from: string): void {
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
      this.reject(from, "decision without a position");
      return;
    }
    const at = seq as number;
    if (at < this.nextSeq || this.pending.has(at)) return;
    let hash: string;
    try {
      hash = checkBlock(block, this.deps.verifier);
      const h = block.header;
      if (h.index >= this.n || h.round * this.n + h.index !== at) {
        this.reject(from, "decision at the wrong position");
        return;
      }
      checkCertificate(h, hash, qc, new Set(this.config.members), this.quorum, this.deps.verifier);
    } catch (e) {
      this.reject(from, isLedgerError(e) ? e.message : "invalid decision");
      return;
    }
    const s = this.active(block.header.round) ? this.slot(block.header.round, block.header.index) : undefined;
    this.adopted.add(at);
    this.decide(at, { hash, block, qc }, s);
  }

  protected onBlocks(entries: unknown, from: string): void {
    if (!Array.isArray(entries)) {
      this.reject(from, "blocks without entries");
      return;
    }
    for (const e of entries as LedgerEntry[]) this.acceptDecision(e?.seq, e?.block, e?.qc, from);
    if (
      entries.length >= this.config.fetchLimit &&
      this.config.members.includes(from) &&
      from !== this.config.self
    ) {
      this.emit({ type: "send", to: from, msg: this.fetchMsg() });
    }
  }

  protected fetchMsg(): Message {
    return { t: "fetch", from: this.config.self, fromSeq: this.nextSeq };
  }

  /** Asks one peer (the one that showed we are behind, else the next in turn) for decided blocks. */
  protected requestFetch(peer: string | undefined): void {
    if (this.fetchTimer) return;
    let to = peer;
    if (to === undefined || to === this.config.self) {
      do {
        to = this.config.members[this.fetchRotor++ % this.n];
      } while (to === this.config.self && this.n > 1);
    }
    if (to === this.config.self) return;
    this.fetchTimer = true;
    this.emit({ type: "send", to, msg: this.fetchMsg() });
    this.emit({ type: "timer", key: "fetch", delayMs: this.pace.tickMs() });
  }
}
