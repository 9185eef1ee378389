import { hashJson } from "../../protocol/hash.js";
import { blockHash, type LedgerEntry, linkHash, makeBlock } from "../ledger/block.js";
import type { Message, PrePrepare } from "./messages.js";
import { ReplicaRouting } from "./replica-routing.js";
import type { Slot } from "./slot.js";
import type { Input, Output, ReplicaConfig, ReplicaDeps, VoteRecord } from "./types.js";

/** Ticks a slot is let off in one view for news taken during them (see onTimer). */
export const SPARED_TICKS = 6;

/**
 * One aggregator's multi-leader PBFT core (after Mir-BFT / ISS): member i leads slots (r, i); slots are
 * ordered r·n + i; each slot is its own PBFT instance with its own view changes. The class is a pure
 * state machine: `step(input, now)` returns what to send, which timers to arm and what was decided. It
 * owns no clock, timer, socket or file; `now` is only used to stamp the blocks this replica proposes.
 */
export class Replica extends ReplicaRouting {
  /** when each of our messages was last re-sent */
  private readonly resentAt = new WeakMap<Message, number>();

  constructor(config: ReplicaConfig, deps: ReplicaDeps) {
    super(config, deps);
  }

  step(input: Input, now: number): Output[] {
    this.out = [];
    this.now = now;
    switch (input.type) {
      case "message":
        this.onMessage(input.msg);
        break;
      case "submit":
        this.pool.push(input.tx);
        this.onSubmit();
        break;
      case "timer":
        this.onTimer(input.key);
        break;
      case "restart":
        this.onRestart();
        break;
      case "restore":
        this.onRestore(input.votes);
        break;
    }
    this.settleVotes();
    return this.out;
  }

  // ---- inputs ----

  private onSubmit(): void {
    if (this.pool.length >= this.config.maxBatch) {
      this.tryPropose();
    } else if (!this.batchTimer) {
      this.batchTimer = true;
      this.emit({ type: "timer", key: "batch", delayMs: this.config.batchDelayMs });
    }
  }

  private onTimer(key: string): void {
    if (key === "batch") {
      this.batchTimer = false;
      this.batchDue = this.pool.length > 0;
      this.tryPropose();
      return;
    }
    if (key === "pipeline") {
      this.pipelineTimer = false;
      this.tryPropose();
      return;
    }
    if (key === "fwd") {
      this.forwardTimer = false;
      if (this.forwarded.size > 0) {
        this.pool.unshift(...this.forwarded.values());
        this.forwarded.clear();
        this.batchDue = true;
        this.tryPropose();
      }
      return;
    }
    if (key === "votes") {
      this.voteTimer = false;
      this.flushVotes();
      return;
    }
    if (key === "vcs") {
      this.vcTimer = false;
      this.flushViewChanges();
      return;
    }
    if (key === "fetch") {
      this.fetchTimer = false;
      if (this.maxSeenRound >= this.base + this.config.window || this.checkpoints.stableRound > this.base) {
        this.requestFetch(undefined);
      }
      return;
    }
    const [, r, i] = key.split(":").map(Number);
    const s = this.slots.get(r * this.n + i);
    if (s === undefined || s.decided !== undefined || !this.active(r)) return;
    s.timerArmed = false;
    // A slot that took votes in its view from f + 1 peers during the tick, or whose proposal is in and
    // whose round had votes from f + 1 peers during the tick, is slow, not failed: the tick does not count
    // towards giving up the view. When every member is starved (51 processes on two cores), rounds take
    // longer than any tick learnt so far, and counting those ticks set off view changes that doubled the
    // work of the very rounds they were waiting for. f + 1 voters include an honest one, so faulty members
    // cannot hold a slot on their own, and the letting off is bounded (SPARED_TICKS a view). A slot whose
    // leader is gone hears no votes (nobody has its proposal) and times out as before, and so does one
    // that hears only its side of a partition.
    // A timer that runs more than half a tick late says that we are behind on our own input: what we
    // wait for may be queued here, unread. Such a tick counts neither (within the same bound), and nothing
    // is re-sent: a starved member re-sending each tick cost every peer a message it already had, and
    // had each peer that decided the slots answer with the decisions.
    const late = this.now - s.due > this.pace.tickMs() / 2;
    // An orphan slot (ReplicaCore.orphan: its round decided without it, nobody voted in it) gets no
    // let-off and gives up its view now, not after the whole patience.
    const orphan = this.orphan(s);
    const spared =
      !orphan &&
      s.spared < SPARED_TICKS &&
      (late ||
        s.heard.size > this.f ||
        (s.accepted.has(s.view) && this.votersSince(s.round, this.now - this.pace.tickMs()) > this.f));
    s.heard.clear();
    if (spared) s.spared++;
    // PBFT's liveness rule: the clock towards the next view only runs once 2f+1 members have joined this
    // one, so that replicas that entered it at different times do not race ahead of its new leader.
    const joined = (s.viewChanges.get(s.view)?.size ?? 0) >= this.quorum;
    if (!spared && (!s.inViewChange || joined)) s.ticks++;
    if (orphan) s.ticks = Math.max(s.ticks, this.patience(s));
    if (s.ticks < this.patience(s) || (s.inViewChange && !joined)) {
      // Until patience runs out, re-send: messages may just have been lost, and peers that already
      // decided the slot answer a re-send with the decision. Re-sends thin out (ticks 1, 2, 4, 8, then
      // every 16th): a starved consortium must not drown in its own retransmissions.
      if (!(spared && late)) {
        s.resends++;
        if ((s.resends & (s.resends - 1)) === 0 || s.resends % 16 === 0)
          for (const m of s.mine.values()) this.resend(m, !spared);
      }
      this.armTimer(s);
    } else {
      this.pace.timedOut(this.now);
      this.startViewChange(s, s.view + 1, orphan);
    }
  }

  /** Re-sends one of our messages; a vote batch shared by many stalled slots goes once per tick. */
  private resend(m: Message, askHelp: boolean): void {
    if (m.t === "vc" && m.sig === "") return; // goes out with its batch
    const at = this.resentAt.get(m);
    if (at !== undefined && this.now - at < this.pace.tickMs()) return;
    this.resentAt.set(m, this.now);
    this.broadcast(askHelp ? ({ ...m, re: true } as Message) : m);
  }

  private onRestore(votes: VoteRecord[]): void {
    for (const r of Array.isArray(votes) ? votes : []) {
      if (!Number.isSafeInteger(r?.seq) || r.seq < this.nextSeq) continue;
      const list = this.restored.get(r.seq) ?? [];
      list.push(r);
      this.restored.set(r.seq, list);
      const s = this.slots.get(r.seq);
      if (s !== undefined) this.applyRestored(s, r.seq);
    }
  }

  private onRestart(): void {
    for (const s of this.slots.values()) s.timerArmed = false;
    this.batchTimer = false;
    this.pipelineTimer = false;
    this.fetchTimer = false;
    this.forwardTimer = false;
    this.voteTimer = false;
    this.flushVotes();
    this.vcTimer = false;
    this.flushViewChanges();
    if (this.forwarded.size > 0) this.onTimer("fwd");
    this.armTimers();
    for (const m of this.config.members) {
      if (m !== this.config.self) this.emit({ type: "send", to: m, msg: this.fetchMsg() });
    }
    this.tryPropose();
  }

  private onMessage(msg: Message): void {
    if (typeof msg !== "object" || msg === null || typeof msg.from !== "string") return;
    switch (msg.t) {
      case "pp":
        this.routed(msg, msg.block?.header?.round, msg.block?.header?.index);
        return;
      case "prepare":
      case "commit":
      case "vc":
      case "nv":
        this.routed(msg, msg.round, msg.index);
        return;
      case "votes":
        this.onVoteBatch(msg);
        return;
      case "vcs":
        this.onViewChangeBatch(msg);
        return;
      case "ckpt":
        this.onCheckpoint(msg);
        return;
      case "decided":
        this.acceptDecision(msg.seq, msg.block, msg.qc, msg.from);
        return;
      case "fetch":
        if (Number.isSafeInteger(msg.fromSeq) && msg.fromSeq >= 0 && this.config.members.includes(msg.from)) {
          this.emit({ type: "serve", to: msg.from, fromSeq: msg.fromSeq, limit: this.config.fetchLimit });
        }
        return;
      case "blocks":
        this.onBlocks(msg.entries, msg.from);
        return;
      case "fwd":
        if (!Array.isArray(msg.txs) || !this.config.members.includes(msg.from)) {
          this.reject(msg.from, "forward without transactions");
          return;
        }
        this.pool.push(...msg.txs);
        this.onSubmit();
        return;
      default:
        this.reject(String((msg as { from: unknown }).from), "unknown message type");
        return;
    }
  }

  // ---- proposing ----

  protected tryPropose(): void {
    if (this.proposing) return;
    this.proposing = true;
    try {
      // Proposing can decide slots and advance the base under our feet; go round until nothing moves.
      let seenBefore: number;
      let baseBefore: number;
      do {
        seenBefore = this.maxSeenRound;
        baseBefore = this.base;
        this.proposeRounds();
      } while (this.maxSeenRound !== seenBefore || this.base !== baseBefore);
    } finally {
      this.proposing = false;
    }
  }

  private proposeRounds(): void {
    const base = this.base;
    // A lane's rounds are proposed in order: once a lane waits, its later rounds wait too.
    const waiting = new Set<number>();
    let leadsAny = false;
    for (let r = base; r < base + this.config.window; r++) {
      for (let i = 0; i < this.n; i++) {
        if (this.base !== base) return;
        if (r * this.n + i < this.nextSeq) continue;
        const s = this.slot(r, i);
        if (this.leader(i, s.v0) !== this.config.self) continue;
        leadsAny = true;
        // A prepare signed before a restart means we proposed here already: never propose twice.
        if (s.accepted.has(s.v0) || s.signed.has(`prepare:${s.v0}`)) continue;
        if (s.view !== s.v0 || s.decided !== undefined || waiting.has(i)) continue;
        const full = this.pool.length >= this.config.maxBatch;
        const ready = full || (this.batchDue && this.pool.length > 0);
        if (r > this.maxSeenRound && !ready) {
          waiting.add(i);
          continue;
        }
        // A new round starts when no round is in flight, when a full batch waits, or when the batch has
        // waited a tick: at light load one round at a time (a transaction waits for the round in flight,
        // then goes in the next), under backlog rounds overlap up to the window. Starting a round for
        // every transaction instead fills the window, and on a CPU-bound consortium the rounds in flight
        // share the CPU: each takes W times longer, and so does every transaction (16 processes on 2
        // cores: p50 2.7 s at W = 4, 0.9 s one round at a time, the same 2.2 rounds a second). The tick
        // keeps the old nudge: a round others have not heard of yet (its proposal lost) is announced by
        // the next one, whose messages start their timers.
        if (r > this.maxSeenRound && r > this.base && !full) {
          this.dueSince ??= this.now;
          const wait = this.dueSince + this.pace.tickMs() - this.now;
          if (wait > 0) {
            if (!this.pipelineTimer) {
              this.pipelineTimer = true;
              this.emit({ type: "timer", key: "pipeline", delayMs: wait });
            }
            waiting.add(i);
            continue;
          }
        }
        const txs = this.pool.splice(0, this.config.maxBatch);
        this.dueSince = undefined;
        if (this.pool.length === 0) this.batchDue = false;
        this.propose(s, txs);
      }
    }
    if (!leadsAny && this.pool.length > 0 && this.batchDue) this.forwardPool();
  }

  /**
   * We lead no slot at the moment (our lane is passed over): hand our clients' transactions to the member
   * leading our lane, and take them back if they are not committed in time.
   */
  private forwardPool(): void {
    const r = this.myIndex + this.base * this.n < this.nextSeq ? this.base + 1 : this.base;
    // Each retry goes one member further along, past a forward target that may itself be down.
    let to = this.leader(this.myIndex, this.slot(r, this.myIndex).v0 + this.forwardAttempts++);
    if (to === this.config.self)
      to = this.leader(this.myIndex, this.slot(r, this.myIndex).v0 + this.forwardAttempts++);
    const txs = this.pool.splice(0, this.pool.length);
    this.batchDue = false;
    this.dueSince = undefined;
    for (const tx of txs) this.forwarded.set(hashJson(tx), tx);
    this.emit({ type: "send", to, msg: { t: "fwd", from: this.config.self, txs } });
    if (!this.forwardTimer) {
      this.forwardTimer = true;
      this.emit({ type: "timer", key: "fwd", delayMs: this.pace.tickMs() * 4 });
    }
  }

  private propose(s: Slot, txs: unknown[]): void {
    const block = makeBlock({ round: s.round, index: s.index, view: s.v0 }, this.now, txs, this.deps.signer);
    // our own block: its hash without checking our own signature
    const hash = blockHash(block.header);
    if (txs.length > 0) this.myProposals.set(s.round * this.n + s.index, { hash, txs });
    const pp: PrePrepare = { t: "pp", from: this.config.self, block };
    s.mine.set("pp", pp);
    this.broadcast(pp);
    this.acceptProposal(s, s.v0, block, hash);
  }

  // ---- decisions, execution, catch-up ----

  protected execute(): void {
    const startBase = this.base;
    for (let d = this.pending.get(this.nextSeq); d !== undefined; d = this.pending.get(this.nextSeq)) {
      const seq = this.nextSeq;
      this.pending.delete(seq);
      const h = d.block.header;
      const ctx = { time: h.time, height: seq, proposer: h.proposer };
      const results = d.block.txs.map((tx) => this.deps.machine.apply(tx, ctx));
      if (this.forwarded.size > 0) {
        for (const tx of d.block.txs) this.forwarded.delete(hashJson(tx));
        if (this.forwarded.size === 0) this.forwardAttempts = 0;
      }
      const link = linkHash(seq, this.prevLink, d.hash);
      const entry: LedgerEntry = { seq, prev: this.prevLink, link, block: d.block, qc: d.qc };
      this.prevLink = link;
      const adopted = this.adopted.delete(seq);
      this.emit({
        type: "commit",
        entry,
        hash: d.hash,
        results,
        ...(adopted ? { adopted: true as const } : {}),
      });
      this.recent.set(seq, entry);
      this.executed(seq, h.proposer);
      const mine = this.myProposals.get(seq);
      if (mine !== undefined) {
        this.myProposals.delete(seq);
        // Our block lost its slot to a view change: its transactions go back to the front of the queue.
        if (mine.hash !== d.hash) {
          this.pool.unshift(...mine.txs);
          this.batchDue = true;
          this.requeued = true;
        }
      }
      this.nextSeq++;
      if (this.nextSeq % this.n === 0) this.roundDone();
    }
    if (this.base !== startBase) this.advanced(startBase);
    if (this.requeued) {
      this.requeued = false;
      this.tryPropose();
    }
  }

  private roundDone(): void {
    const done = this.base;
    if (done % this.config.checkpointInterval === 0) {
      for (const o of this.checkpoints.own(done, this.deps.machine.stateHash(), this.prevLink)) this.emit(o);
    }
  }

  private advanced(oldBase: number): void {
    const keepFrom = (this.base - this.config.window) * this.n;
    for (const seq of this.slots.keys()) if (seq < this.nextSeq) this.slots.delete(seq);
    for (const round of this.voters.keys()) if (round < this.base) this.voters.delete(round);
    for (const seq of this.recent.keys()) if (seq < keepFrom) this.recent.delete(seq);
    for (const seq of this.proposers.keys()) if (seq < keepFrom) this.proposers.delete(seq);
    this.armTimers();
    this.tryPropose();
    for (let r = oldBase + this.config.window; r < this.base + this.config.window; r++) {
      const msgs = this.future.get(r);
      if (msgs === undefined) continue;
      this.future.delete(r);
      this.bufferedCount -= msgs.length;
      for (const m of msgs) this.onMessage(m);
    }
    for (const r of this.future.keys()) {
      if (r < this.base) {
        this.bufferedCount -= this.future.get(r)?.length ?? 0;
        this.future.delete(r);
      }
    }
  }

  private onCheckpoint(msg: Message & { t: "ckpt" }): void {
    const outs = this.checkpoints.receive(msg, this.base);
    for (const o of outs) this.emit(o);
    if (this.checkpoints.stableRound > this.base) this.requestFetch(msg.from);
  }
}
