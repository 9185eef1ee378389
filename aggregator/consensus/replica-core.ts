import type { Block, LedgerEntry, QuorumCertificate } from "../ledger/block.js";
import { checkBlock, GENESIS_PREV, voteBytes } from "../ledger/block.js";
import { isLedgerError } from "../ledger/errors.js";
import { CheckpointTracker } from "./checkpoints.js";
import type { BatchedVote, Message, PrePrepare, ViewChange, Vote } from "./messages.js";
import { Pace, slotTimeoutFor } from "./pace.js";
import { restoreSlot } from "./restore.js";
import {
  firstVotes,
  type HeldVote,
  hasVote,
  needsUnsigned,
  newSlot,
  type Slot,
  votedIn,
  votesOf,
} from "./slot.js";
import {
  checkConfig,
  type Decision,
  faultTolerance,
  type Output,
  type ReplicaConfig,
  type ReplicaDeps,
  type VoteRecord,
} from "./types.js";
import type { MemberInfo } from "./viewchange.js";
import { OutgoingVotes } from "./vote-out.js";

const MAX_BACKOFF_EXP = 5;
/** probes of a passed-over lane are at most probeInterval · 2^4 rounds apart */
const MAX_PROBE_BACKOFF = 4;

/**
 * The per-slot PBFT machinery shared by the replica: state, quorums and the normal case (pre-prepare,
 * prepare, commit, votes in batches). Layered on it: the view change (replica-views.ts), routing and
 * catch-up (replica-routing.ts), and inputs, proposing and execution (replica.ts).
 */
export abstract class ReplicaCore {
  readonly config: ReplicaConfig;
  protected readonly deps: ReplicaDeps;
  protected readonly n: number;
  protected readonly myIndex: number;
  protected readonly member: MemberInfo;
  protected readonly f: number;
  /** round → peer → when a vote of the peer in the round was last taken (noteVoter) */
  protected readonly voters = new Map<number, Map<string, number>>();
  protected readonly slots = new Map<number, Slot>();
  protected readonly pending = new Map<number, Decision>();
  /** decided entries kept for answering stragglers, by seq */
  protected readonly recent = new Map<number, LedgerEntry>();
  /** proposers of executed slots, for the pass-over rule */
  protected readonly proposers = new Map<number, string>();
  protected readonly myProposals = new Map<number, { hash: string; txs: unknown[] }>();
  protected readonly future = new Map<number, Message[]>();
  protected readonly checkpoints: CheckpointTracker;
  protected pool: unknown[] = [];
  protected batchDue = false;
  protected batchTimer = false;
  /** when the pool's transactions first found no round to go in (they wait for the round in flight) */
  protected dueSince: number | undefined;
  protected pipelineTimer = false;
  protected fetchTimer = false;
  protected fetchRotor = 0;
  protected bufferedCount = 0;
  protected nextSeq = 0;
  protected prevLink = GENESIS_PREV;
  protected maxSeenRound = -1;
  protected proposing = false;
  protected requeued = false;
  protected readonly forwarded = new Map<string, unknown>();
  protected forwardTimer = false;
  protected forwardAttempts = 0;
  protected out: Output[] = [];
  protected readonly outVotes = new OutgoingVotes();
  /** the slot timer's tick, adapted to the decisions' pace */
  protected readonly pace: Pace;
  protected voteTimer = false;
  /** when each peer was last helped on each subject (mayHelp) */
  private readonly helped = new Map<string, number>();
  protected now = 0;

  constructor(config: ReplicaConfig, deps: ReplicaDeps) {
    checkConfig(config);
    this.config = config;
    this.deps = deps;
    this.n = config.members.length;
    this.myIndex = config.members.indexOf(config.self);
    const { f, quorum } = faultTolerance(this.n);
    this.f = f;
    this.member = { members: config.members, quorum, verifier: deps.verifier };
    this.checkpoints = new CheckpointTracker(config, deps, this.member.quorum);
    // The slot timeout grows with the consortium: a round costs each member about 3n messages. 51
    // processes on two cores took over 3 s a round; with the 500 ms default (ticks between 250 ms and
    // 4 s) every slot of the first rounds changed view, over 15 000 times in three minutes, and no
    // registration committed; with 4 s there was no view change and 10 tx/s committed.
    this.pace = new Pace(slotTimeoutFor(config.slotTimeoutMs, this.n), 4 * this.n);
  }

  get quorum(): number {
    return this.member.quorum;
  }

  /** Rounds fully executed so far. */
  get base(): number {
    return Math.floor(this.nextSeq / this.n);
  }

  get executedSeq(): number {
    return this.nextSeq;
  }

  get pendingTxs(): number {
    return this.pool.length;
  }

  // ---- helpers ----

  protected leader(index: number, view: number): string {
    return this.config.members[(index + view) % this.n];
  }

  protected emit(o: Output): void {
    this.out.push(o);
  }

  protected broadcast(msg: Message): void {
    this.emit({ type: "send", to: "*", msg });
  }

  protected reject(from: string, reason: string): void {
    this.emit({ type: "rejected", from, reason });
  }

  /**
   * Notes that a vote of `from` in the slot was taken now: the slot timers' news (replica.ts, onTimer).
   * One entry per round and peer, dropped once the round is executed.
   */
  protected noteVoter(s: Slot, view: number, from: string): void {
    if (view === s.view) s.heard.add(from);
    let m = this.voters.get(s.round);
    if (m === undefined) {
      m = new Map();
      this.voters.set(s.round, m);
    }
    m.set(from, this.now);
  }

  /** Peers with a vote taken in `round` since `since`. */
  protected votersSince(round: number, since: number): number {
    let count = 0;
    for (const at of this.voters.get(round)?.values() ?? []) if (at >= since) count++;
    return count;
  }

  /** Slots of `round` decided here. */
  protected decidedIn(round: number): number {
    let count = 0;
    for (let i = 0; i < this.n; i++) {
      const seq = round * this.n + i;
      if (seq < this.nextSeq || this.slots.get(seq)?.decided !== undefined) count++;
    }
    return count;
  }

  protected active(round: number): boolean {
    return round >= this.base && round < this.base + this.config.window;
  }

  /*
   * The pass-over rule, decided from the executed ledger alone so that every honest replica agrees on a
   * slot's first view before it can see a message for it: if the lane's slot W rounds earlier was decided
   * by someone else (a view change), the lane starts at view 1 with the next member leading, except in
   * probe rounds where the old leader gets its chance to rejoin.
   */
  protected initialView(round: number, index: number): number {
    const w = this.config.window;
    if (round < w) return 0;
    const p = this.proposers.get((round - w) * this.n + index);
    if (p === undefined || p === this.config.members[index]) return 0;
    return this.probes(round, index) ? 0 : 1;
  }

  /**
   * Probe rounds back off: a lane whose leader has not led one of its slots for a long time is probed
   * every `probeInterval` · 2^k rounds, the largest k ≤ MAX_PROBE_BACKOFF with that spacing at most the
   * rounds since the leader last led one (probes at 16, 32, 64, 128, then every 256 rounds by default).
   * Each probe of a dead leader holds its round a tick. Read from the ledger as executed up to round − W,
   * like the pass-over rule, so every member agrees.
   */
  private probes(round: number, index: number): boolean {
    const every = this.config.probeInterval;
    if (round % every !== 0) return false;
    const since = round - this.lastLed(index, round - this.config.window);
    let spacing = every;
    for (let k = 0; k < MAX_PROBE_BACKOFF && spacing * 2 <= since; k++) spacing *= 2;
    return round % spacing === 0;
  }

  /** Recent rounds in which each lane's own leader led its slot, oldest first (at most W + 1 of them). */
  private readonly led = new Map<number, number[]>();

  /** The last round ≤ `upTo` whose slot of lane `index` its own leader led; −1 for none known. */
  private lastLed(index: number, upTo: number): number {
    const rounds = this.led.get(index) ?? [];
    for (let k = rounds.length - 1; k >= 0; k--) if (rounds[k] <= upTo) return rounds[k];
    return -1;
  }

  /** Execution order: who led slot `seq`, for the pass-over rule and the probes' back-off. */
  protected executed(seq: number, proposer: string): void {
    this.proposers.set(seq, proposer);
    const index = seq % this.n;
    if (proposer !== this.config.members[index]) return;
    const rounds = this.led.get(index) ?? [];
    rounds.push(Math.floor(seq / this.n));
    if (rounds.length > this.config.window + 1) rounds.shift();
    this.led.set(index, rounds);
  }

  protected slot(round: number, index: number): Slot {
    const seq = round * this.n + index;
    let s = this.slots.get(seq);
    if (s === undefined) {
      s = newSlot(round, index, this.initialView(round, index));
      s.decided = this.pending.get(seq);
      this.slots.set(seq, s);
      this.applyRestored(s, seq);
    }
    return s;
  }

  /** Votes persisted before a restart, by position; applied when their slot comes into being. */
  protected readonly restored = new Map<number, VoteRecord[]>();

  protected applyRestored(s: Slot, seq: number): void {
    const records = this.restored.get(seq);
    if (records === undefined) return;
    this.restored.delete(seq);
    const vc = restoreSlot(s, records, this.config.self, this.deps.signer);
    if (vc === undefined) return;
    this.storeViewChange(s, vc);
    // It may never have left: view changes of a burst wait voteBatchMs for their batch, and a power cut
    // in between keeps only the record. Peers hear it now rather than at the slot's next re-send.
    this.broadcast(vc);
  }

  /** Ticks (pace.ts) before giving up on a view: doubles with each view change of the slot. */
  protected patience(s: Slot): number {
    return 2 * 2 ** Math.min(s.view - s.v0, MAX_BACKOFF_EXP);
  }

  protected armTimer(s: Slot): void {
    s.timerArmed = true;
    s.startedAt ??= this.now;
    s.due = this.now + this.pace.tickMs();
    this.emit({ type: "timer", key: `slot:${s.round}:${s.index}`, delayMs: this.pace.tickMs() });
  }

  /** Slots of rounds someone has started are expected to decide: their timers run. */
  protected armTimers(): void {
    const last = Math.min(this.maxSeenRound, this.base + this.config.window - 1);
    for (let r = this.base; r <= last; r++) {
      for (let i = 0; i < this.n; i++) {
        if (r * this.n + i < this.nextSeq) continue;
        const s = this.slot(r, i);
        if (s.decided === undefined && !s.timerArmed) this.armTimer(s);
      }
    }
  }

  protected seen(round: number): void {
    if (round > this.maxSeenRound) {
      this.maxSeenRound = round;
      this.armTimers();
      this.tryPropose();
    }
  }

  // ---- normal case ----

  protected onPrePrepare(s: Slot, pp: PrePrepare): void {
    const h = pp.block?.header;
    if (typeof h !== "object" || h === null) {
      this.reject(pp.from, "pre-prepare without a block header");
      return;
    }
    if (h.view !== s.v0 || pp.from !== this.leader(s.index, s.v0) || h.proposer !== pp.from) {
      this.reject(pp.from, "pre-prepare from a member that does not lead the slot");
      return;
    }
    if (s.view !== s.v0 || s.inViewChange) return;
    const prior = s.accepted.get(s.v0);
    let hash: string;
    try {
      hash = checkBlock(pp.block, this.deps.verifier);
    } catch (e) {
      this.reject(pp.from, isLedgerError(e) ? e.message : "invalid block");
      return;
    }
    if (prior === hash) return;
    if (prior !== undefined) {
      this.emit({
        type: "fault",
        kind: "equivocation",
        member: pp.from,
        detail: `two proposals in slot ${s.round}:${s.index}`,
      });
      this.startViewChange(s, s.view + 1);
      return;
    }
    if (!this.txsValid(pp.block)) {
      this.reject(pp.from, "proposal with an invalid transaction");
      return;
    }
    this.acceptProposal(s, s.v0, pp.block, hash);
  }

  protected txsValid(b: Block): boolean {
    const check = this.deps.validateTx;
    return check === undefined || b.txs.every((tx) => check(tx));
  }

  /**
   * Records a vote about to be signed; undefined when it would contradict one signed before (a restart).
   * The record goes to the shell to persist with the batch that carries the vote (vote-out.ts), so a batch
   * costs one durable write however many votes it holds; a vote nobody has seen needs no record.
   */
  protected sign(s: Slot, kind: "prepare" | "commit", view: number, hash: string): VoteRecord | undefined {
    const key = `${kind}:${view}`;
    const before = s.signed.get(key);
    if (before !== undefined && before !== hash) return undefined;
    s.signed.set(key, hash);
    const prepared = kind === "commit" ? s.prepared : undefined;
    return {
      seq: s.round * this.n + s.index,
      kind,
      view,
      hash,
      ...(prepared === undefined ? {} : { prepared }),
    };
  }

  protected acceptProposal(s: Slot, view: number, block: Block, hash: string): void {
    const record = this.sign(s, "prepare", view, hash);
    if (record === undefined) return;
    // Our own proposal has just gone out: its prepare is on disk before that, so that after a restart we
    // never propose another block in this slot and view.
    const ours = block.header.proposer === this.config.self;
    if (ours) this.emit({ type: "vote", record });
    s.accepted.set(view, hash);
    s.blocks.set(hash, block);
    const held = this.outVotes.add(s, "prepare", view, hash, this.config.self, ours ? undefined : record);
    votesOf(s, "prepare", view, hash).set(this.config.self, held);
    this.evaluate(s, view, hash);
    this.seen(s.round);
  }

  protected onVote(s: Slot, v: Vote): void {
    if (!Number.isSafeInteger(v.view) || v.view < s.v0 || typeof v.hash !== "string") {
      this.reject(v.from, "vote with a bad view or hash");
      return;
    }
    // Votes beyond what is needed are not checked: their signatures cost as much as the useful ones.
    if (!this.news(s, v.t, v.view, v.hash, v.from)) return;
    const m = votesOf(s, v.t, v.view, v.hash);
    if (v.t === "prepare" && m.size >= this.quorum) return;
    if (!this.deps.verifier.verify(v.from, voteBytes(v.t, s.round, s.index, v.view, v.hash), v.sig)) {
      this.reject(v.from, `bad ${v.t} signature`);
      return;
    }
    m.set(v.from, { sig: v.sig });
    this.noteVoter(s, v.view, v.from);
    this.evaluate(s, v.view, v.hash);
  }

  /**
   * A vote this slot can use: one not held yet, and not a prepare of a view in which the slot has its
   * 2f + 1 prepares already (it has sent its commit there). At 51 members the last third of a round's
   * prepare batches brings nothing else, and is then not checked at all. Creates nothing.
   */
  protected news(s: Slot, kind: "prepare" | "commit", view: number, hash: string, from: string): boolean {
    if (kind === "prepare" && s.sentCommit.has(view)) return false;
    return !hasVote(s, kind, view, hash, from);
  }

  /** A vote out of a batch whose signature was checked once for all its votes. */
  protected applyBatchedVote(s: Slot, v: BatchedVote, from: string, held: HeldVote): void {
    if (v.view < s.v0) return;
    const m = votesOf(s, v.kind, v.view, v.hash);
    if (m.has(from)) return;
    m.set(from, held);
    this.noteVoter(s, v.view, from);
    this.evaluate(s, v.view, v.hash);
  }

  /**
   * True at most once a tick per peer and subject: answers to a peer that is behind (our view changes, a
   * decision) must not multiply with its re-sends, or a consortium that is slow drowns in its own help.
   */
  protected mayHelp(to: string, subject: string): boolean {
    const key = `${to}\n${subject}`;
    const tick = this.pace.tickMs();
    const at = this.helped.get(key);
    if (at !== undefined && this.now - at < tick) return false;
    if (this.helped.size >= 4096)
      for (const [k, t] of this.helped) if (this.now - t >= tick) this.helped.delete(k);
    this.helped.set(key, this.now);
    return true;
  }

  /** Signs and sends the votes waiting in our batch. */
  protected flushVotes(): void {
    const out = this.outVotes.flush(this.deps.signer);
    if (out === undefined) return;
    // persisted before they are sent (the shell keeps this order)
    for (const record of out.records) this.emit({ type: "vote", record });
    this.broadcast(out.msg);
  }

  /**
   * Our batch goes out as soon as it holds, for some round, our vote of its kind in every slot of that
   * round still open here (every proposal of the round prepared, or every slot of it prepared for
   * commits): one batch per round and phase in the normal case, whatever n is. Otherwise a timer sends
   * what there is, so a missing proposal delays the others' votes only that long.
   */
  protected settleVotes(): void {
    if (this.outVotes.size === 0) return;
    const complete = (kind: "prepare" | "commit") =>
      [...this.outVotes.rounds[kind]].some((r) => this.roundVoted(r, kind));
    if (complete("prepare") || complete("commit")) this.flushVotes();
    else if (!this.voteTimer) {
      this.voteTimer = true;
      // as long as a typical slot takes to decide (half a tick), at least voteBatchMs: a starved consortium
      // whose proposals trickle in still sends about one batch per round and phase
      const wait = Math.max(this.config.voteBatchMs, this.pace.tickMs() >> 1);
      this.emit({ type: "timer", key: "votes", delayMs: wait });
    }
  }

  /** True when we hold our vote of `kind` in the current view of every open slot of round r. */
  private roundVoted(r: number, kind: "prepare" | "commit"): boolean {
    if (!this.active(r)) return true;
    for (let i = 0; i < this.n; i++) {
      const seq = r * this.n + i;
      if (seq < this.nextSeq) continue;
      const s = this.slots.get(seq);
      if (s === undefined) return false;
      if (s.decided !== undefined || s.inViewChange) continue;
      if (kind === "prepare" ? !s.signed.has(`prepare:${s.view}`) : !s.sentCommit.has(s.view)) return false;
    }
    return true;
  }

  /** Moves the slot on when quorums are complete: prepared → send commit; committed → decide. */
  protected evaluate(s: Slot, view: number, hash: string): void {
    if (s.decided !== undefined) return;
    const block = s.blocks.get(hash);
    const prepares = votesOf(s, "prepare", view, hash);
    if (
      s.accepted.get(view) === hash &&
      prepares.size >= this.quorum &&
      view === s.view &&
      !s.inViewChange &&
      !s.sentCommit.has(view) &&
      block !== undefined
    ) {
      s.sentCommit.add(view);
      if (s.prepared === null || s.prepared.view < view) {
        if (needsUnsigned(prepares, this.quorum)) this.flushVotes();
        s.prepared = { view, block, votes: firstVotes(prepares, this.quorum) };
      }
      const record = this.sign(s, "commit", view, hash);
      if (record !== undefined) {
        const held = this.outVotes.add(s, "commit", view, hash, this.config.self, record);
        votesOf(s, "commit", view, hash).set(this.config.self, held);
      }
    }
    const commits = votesOf(s, "commit", view, hash);
    if (commits.size >= this.quorum && block !== undefined) {
      if (needsUnsigned(commits, this.quorum)) this.flushVotes();
      const qc: QuorumCertificate = { view, votes: firstVotes(commits, this.quorum) };
      this.decide(s.round * this.n + s.index, { hash, block, qc }, s);
    }
  }

  protected decide(seq: number, d: Decision, s: Slot | undefined): void {
    // Every decision is a sample, in whatever view: a slot that had to change view took at least two
    // ticks, so when the whole consortium is slower than the tick (start-up, CPU starvation), the samples
    // grow the tick and the storm of view changes ends; one slow member's slots stay in the tail.
    if (s !== undefined && s.decided === undefined && s.startedAt !== undefined)
      this.pace.observe(this.now - s.startedAt, this.now);
    if (s !== undefined) s.decided = d;
    this.pending.set(seq, d);
    this.execute();
  }

  /**
   * An orphan slot: its round moved on without it (2f + 1 of the round's slots are decided here) and
   * nobody has voted in it, so its proposal reached no one, not just us (a proposal lost on its way to us
   * alone shows in the others' prepares, and the leader's re-send brings it). Its leader failed or fell a
   * round behind. Giving such a slot up as soon as the round has its 2f + 1 decisions, without waiting for
   * its tick, was tried: in the simulator at 51 with 16 killed it cut the longest stall from 8.0 to 6.3 s,
   * but it stalled seed 114 of the suite's lossy n = 4 sweep (crashes and partitions), so it is not done.
   */
  protected orphan(s: Slot): boolean {
    return (
      !s.inViewChange &&
      !s.accepted.has(s.view) &&
      !votedIn(s, s.view) &&
      this.decidedIn(s.round) >= this.quorum
    );
  }

  protected abstract startViewChange(s: Slot, view: number, orphan?: boolean): void;
  protected abstract storeViewChange(s: Slot, vc: ViewChange): void;
  protected abstract tryPropose(): void;
  protected abstract execute(): void;
}
