import { hashJson } from "../../protocol/hash.js";
import {
  type Block,
  checkBlock,
  checkCertificate,
  GENESIS_PREV,
  type LedgerEntry,
  linkHash,
  makeBlock,
  type QuorumCertificate,
  voteBytes,
} from "../ledger/block.js";
import { isLedgerError } from "../ledger/errors.js";
import { CheckpointTracker } from "./checkpoints.js";
import type { Message, NewView, PrePrepare, ViewChange, Vote } from "./messages.js";
import { newViewBytes, viewChangeBytes } from "./messages.js";
import { firstVotes, newSlot, type Slot, votesOf } from "./slot.js";
import {
  checkConfig,
  type Decision,
  faultTolerance,
  type Input,
  type Output,
  type ReplicaConfig,
  type ReplicaDeps,
} from "./types.js";
import { checkNewView, checkViewChange, type MemberInfo } from "./viewchange.js";

const MAX_BACKOFF_EXP = 5;
const FUTURE_ROUNDS = 3;
const MAX_BUFFERED = 20_000;

/**
 * One aggregator's multi-leader PBFT core (after Mir-BFT / ISS): member i leads slots (r, i); slots are
 * ordered r·n + i; each slot is its own PBFT instance with its own view changes. The class is a pure
 * state machine: `step(input, now)` returns what to send, which timers to arm and what was decided. It
 * owns no clock, timer, socket or file; `now` is only used to stamp the blocks this replica proposes.
 */
export class Replica {
  readonly config: ReplicaConfig;
  private readonly deps: ReplicaDeps;
  private readonly n: number;
  private readonly myIndex: number;
  private readonly member: MemberInfo;
  private readonly f: number;
  private readonly slots = new Map<number, Slot>();
  private readonly pending = new Map<number, Decision>();
  /** decided entries kept for answering stragglers, by seq */
  private readonly recent = new Map<number, LedgerEntry>();
  /** proposers of executed slots, for the pass-over rule */
  private readonly proposers = new Map<number, string>();
  private readonly myProposals = new Map<number, { hash: string; txs: unknown[] }>();
  private readonly future = new Map<number, Message[]>();
  private readonly checkpoints: CheckpointTracker;
  private pool: unknown[] = [];
  private batchDue = false;
  private batchTimer = false;
  private fetchTimer = false;
  private fetchRotor = 0;
  private bufferedCount = 0;
  private nextSeq = 0;
  private prevLink = GENESIS_PREV;
  private maxSeenRound = -1;
  private proposing = false;
  private requeued = false;
  private readonly forwarded = new Map<string, unknown>();
  private forwardTimer = false;
  private forwardAttempts = 0;
  private out: Output[] = [];
  private now = 0;

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
    }
    return this.out;
  }

  // ---- helpers ----

  private leader(index: number, view: number): string {
    return this.config.members[(index + view) % this.n];
  }

  private emit(o: Output): void {
    this.out.push(o);
  }

  private broadcast(msg: Message): void {
    this.emit({ type: "send", to: "*", msg });
  }

  private reject(from: string, reason: string): void {
    this.emit({ type: "rejected", from, reason });
  }

  private active(round: number): boolean {
    return round >= this.base && round < this.base + this.config.window;
  }

  /*
   * The pass-over rule, decided from the executed ledger alone so that every honest replica agrees on a
   * slot's first view before it can see a message for it: if the lane's slot W rounds earlier was decided
   * by someone else (a view change), the lane starts at view 1 with the next member leading, except in
   * probe rounds where the old leader gets its chance to rejoin.
   */
  private initialView(round: number, index: number): number {
    if (round < this.config.window || round % this.config.probeInterval === 0) return 0;
    const p = this.proposers.get((round - this.config.window) * this.n + index);
    return p !== undefined && p !== this.config.members[index] ? 1 : 0;
  }

  private slot(round: number, index: number): Slot {
    const seq = round * this.n + index;
    let s = this.slots.get(seq);
    if (s === undefined) {
      s = newSlot(round, index, this.initialView(round, index));
      s.decided = this.pending.get(seq);
      this.slots.set(seq, s);
    }
    return s;
  }

  /** Ticks of half a slot timeout before giving up on a view: doubles with each view change of the slot. */
  private patience(s: Slot): number {
    return 2 * 2 ** Math.min(s.view - s.v0, MAX_BACKOFF_EXP);
  }

  private armTimer(s: Slot): void {
    s.timerArmed = true;
    this.emit({
      type: "timer",
      key: `slot:${s.round}:${s.index}`,
      delayMs: Math.max(1, this.config.slotTimeoutMs >> 1),
    });
  }

  /** Slots of rounds someone has started are expected to decide: their timers run. */
  private armTimers(): void {
    const last = Math.min(this.maxSeenRound, this.base + this.config.window - 1);
    for (let r = this.base; r <= last; r++) {
      for (let i = 0; i < this.n; i++) {
        if (r * this.n + i < this.nextSeq) continue;
        const s = this.slot(r, i);
        if (s.decided === undefined && !s.timerArmed) this.armTimer(s);
      }
    }
  }

  private seen(round: number): void {
    if (round > this.maxSeenRound) {
      this.maxSeenRound = round;
      this.armTimers();
      this.tryPropose();
    }
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
    // PBFT's liveness rule: the clock towards the next view only runs once 2f+1 members have joined this
    // one, so that replicas that entered it at different times do not race ahead of its new leader.
    const joined = (s.viewChanges.get(s.view)?.size ?? 0) >= this.quorum;
    if (!s.inViewChange || joined) s.ticks++;
    if (s.ticks < this.patience(s) || (s.inViewChange && !joined)) {
      // Until patience runs out, re-send: messages may just have been lost, and peers that already
      // decided the slot answer a re-send with the decision.
      for (const m of s.mine.values()) this.broadcast({ ...m, re: true } as Message);
      this.armTimer(s);
    } else {
      this.startViewChange(s, s.view + 1);
    }
  }

  private onRestart(): void {
    for (const s of this.slots.values()) s.timerArmed = false;
    this.batchTimer = false;
    this.fetchTimer = false;
    this.forwardTimer = false;
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

  /** Sends slot messages to their slot, or answers or buffers them when the slot is not active here. */
  private routed(msg: PrePrepare | Vote | ViewChange | NewView, round: unknown, index: unknown): void {
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
      if (r < this.base + this.config.window * FUTURE_ROUNDS && this.bufferedCount < MAX_BUFFERED) {
        const list = this.future.get(r) ?? [];
        list.push(msg);
        this.future.set(r, list);
        this.bufferedCount++;
      }
      this.requestFetch(msg.from);
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
  private answerStale(msg: PrePrepare | Vote | ViewChange | NewView, seq: number): void {
    if (msg.t !== "vc" && msg.re !== true) return;
    const d = this.pending.get(seq) ?? this.slots.get(seq)?.decided;
    const e = this.recent.get(seq);
    if (d !== undefined) {
      this.emit({
        type: "send",
        to: msg.from,
        msg: { t: "decided", from: this.config.self, seq, block: d.block, qc: d.qc },
      });
    } else if (e !== undefined) {
      this.emit({
        type: "send",
        to: msg.from,
        msg: { t: "decided", from: this.config.self, seq, block: e.block, qc: e.qc },
      });
    } else if (seq < this.nextSeq) {
      this.emit({ type: "serve", to: msg.from, fromSeq: seq, limit: this.config.fetchLimit });
    }
  }

  // ---- normal case ----

  private onPrePrepare(s: Slot, pp: PrePrepare): void {
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

  private txsValid(b: Block): boolean {
    const check = this.deps.validateTx;
    return check === undefined || b.txs.every((tx) => check(tx));
  }

  private acceptProposal(s: Slot, view: number, block: Block, hash: string): void {
    s.accepted.set(view, hash);
    s.blocks.set(hash, block);
    const sig = this.deps.signer.sign(voteBytes("prepare", s.round, s.index, view, hash));
    const vote: Vote = {
      t: "prepare",
      from: this.config.self,
      round: s.round,
      index: s.index,
      view,
      hash,
      sig,
    };
    s.mine.set("prepare", vote);
    this.broadcast(vote);
    votesOf(s, "prepare", view, hash).set(this.config.self, sig);
    this.evaluate(s, view, hash);
    this.seen(s.round);
  }

  private onVote(s: Slot, v: Vote): void {
    if (!Number.isSafeInteger(v.view) || v.view < s.v0 || typeof v.hash !== "string") {
      this.reject(v.from, "vote with a bad view or hash");
      return;
    }
    const m = votesOf(s, v.t, v.view, v.hash);
    if (m.has(v.from)) return;
    // Votes beyond what is needed are not checked: their signatures cost as much as the useful ones.
    if (v.t === "prepare" && (m.size >= this.quorum || s.sentCommit.has(v.view))) return;
    if (!this.deps.verifier.verify(v.from, voteBytes(v.t, s.round, s.index, v.view, v.hash), v.sig)) {
      this.reject(v.from, `bad ${v.t} signature`);
      return;
    }
    m.set(v.from, v.sig);
    this.evaluate(s, v.view, v.hash);
  }

  /** Moves the slot on when quorums are complete: prepared → send commit; committed → decide. */
  private evaluate(s: Slot, view: number, hash: string): void {
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
        s.prepared = { view, block, votes: firstVotes(prepares, this.quorum) };
      }
      const sig = this.deps.signer.sign(voteBytes("commit", s.round, s.index, view, hash));
      const vote: Vote = {
        t: "commit",
        from: this.config.self,
        round: s.round,
        index: s.index,
        view,
        hash,
        sig,
      };
      s.mine.set("commit", vote);
      this.broadcast(vote);
      votesOf(s, "commit", view, hash).set(this.config.self, sig);
    }
    const commits = votesOf(s, "commit", view, hash);
    if (commits.size >= this.quorum && block !== undefined) {
      const qc: QuorumCertificate = { view, votes: firstVotes(commits, this.quorum) };
      this.decide(s.round * this.n + s.index, { hash, block, qc }, s);
    }
  }

  private decide(seq: number, d: Decision, s: Slot | undefined): void {
    if (s !== undefined) s.decided = d;
    this.pending.set(seq, d);
    this.execute();
  }

  // ---- view change ----

  private startViewChange(s: Slot, view: number): void {
    if (view <= s.view && (s.inViewChange || view < s.view)) return;
    s.view = view;
    s.inViewChange = true;
    s.ticks = 0;
    const unsigned = { round: s.round, index: s.index, view, prepared: s.prepared };
    const vc: ViewChange = {
      t: "vc",
      from: this.config.self,
      ...unsigned,
      sig: this.deps.signer.sign(viewChangeBytes(unsigned)),
    };
    s.mine.set("vc", vc);
    this.storeViewChange(s, vc);
    this.broadcast(vc);
    this.armTimer(s);
    this.maybeNewView(s, view);
  }

  private storeViewChange(s: Slot, vc: ViewChange): void {
    let m = s.viewChanges.get(vc.view);
    if (m === undefined) {
      m = new Map();
      s.viewChanges.set(vc.view, m);
    }
    m.set(vc.from, vc);
  }

  private onViewChange(s: Slot, vc: ViewChange): void {
    if (s.viewChanges.get(vc.view)?.has(vc.from)) return;
    if (vc.view <= s.v0) {
      this.reject(vc.from, "view change to a first view");
      return;
    }
    const why = checkViewChange(vc, this.member);
    if (why !== undefined) {
      this.reject(vc.from, why);
      return;
    }
    this.storeViewChange(s, vc);
    // PBFT's join rule: f+1 members ahead of us means at least one honest one timed out.
    const ahead = new Map<string, number>();
    for (const [view, m] of s.viewChanges) {
      if (view <= s.view) continue;
      for (const from of m.keys()) ahead.set(from, Math.min(ahead.get(from) ?? view, view));
    }
    if (ahead.size >= this.f + 1) {
      this.startViewChange(s, Math.min(...ahead.values()));
    }
    this.maybeNewView(s, vc.view);
  }

  private maybeNewView(s: Slot, view: number): void {
    if (this.leader(s.index, view) !== this.config.self || s.view !== view || s.sentNewView.has(view)) return;
    const vcs = s.viewChanges.get(view);
    if (vcs === undefined || vcs.size < this.quorum) return;
    s.sentNewView.add(view);
    const chosen = [...vcs.values()].slice(0, this.quorum);
    let best: ViewChange["prepared"] = null;
    for (const vc of chosen)
      if (vc.prepared !== null && (best === null || vc.prepared.view > best.view)) best = vc.prepared;
    const block =
      best !== null
        ? best.block
        : makeBlock({ round: s.round, index: s.index, view }, this.now, [], this.deps.signer);
    const hash = checkBlock(block, this.deps.verifier);
    const nv: NewView = {
      t: "nv",
      from: this.config.self,
      round: s.round,
      index: s.index,
      view,
      vcs: chosen,
      block,
      sig: this.deps.signer.sign(newViewBytes(s.round, s.index, view, hash)),
    };
    s.mine.set("nv", nv);
    this.broadcast(nv);
    this.enterView(s, view, block, hash);
  }

  private onNewView(s: Slot, nv: NewView): void {
    if (!Number.isSafeInteger(nv.view) || nv.view <= s.v0 || nv.view < s.view) return;
    if (nv.view === s.view && !s.inViewChange) return;
    const why = checkNewView(nv, this.leader(s.index, nv.view), this.member);
    if (why !== undefined) {
      this.reject(nv.from, why);
      return;
    }
    if (!this.txsValid(nv.block)) {
      this.reject(nv.from, "new view with an invalid transaction");
      return;
    }
    for (const vc of nv.vcs) this.storeViewChange(s, vc);
    this.enterView(s, nv.view, nv.block, checkBlock(nv.block, this.deps.verifier));
  }

  private enterView(s: Slot, view: number, block: Block, hash: string): void {
    s.view = view;
    s.inViewChange = false;
    s.ticks = 0;
    this.armTimer(s);
    this.acceptProposal(s, view, block, hash);
  }

  // ---- proposing ----

  private tryPropose(): void {
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
        if (s.accepted.has(s.v0) || s.view !== s.v0 || s.decided !== undefined || waiting.has(i)) continue;
        const ready = this.pool.length >= this.config.maxBatch || (this.batchDue && this.pool.length > 0);
        if (!ready && r > this.maxSeenRound) {
          waiting.add(i);
          continue;
        }
        const txs = this.pool.splice(0, this.config.maxBatch);
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
    for (const tx of txs) this.forwarded.set(hashJson(tx), tx);
    this.emit({ type: "send", to, msg: { t: "fwd", from: this.config.self, txs } });
    if (!this.forwardTimer) {
      this.forwardTimer = true;
      this.emit({ type: "timer", key: "fwd", delayMs: this.config.slotTimeoutMs * 2 });
    }
  }

  private propose(s: Slot, txs: unknown[]): void {
    const block = makeBlock({ round: s.round, index: s.index, view: s.v0 }, this.now, txs, this.deps.signer);
    const hash = checkBlock(block, this.deps.verifier);
    if (txs.length > 0) this.myProposals.set(s.round * this.n + s.index, { hash, txs });
    const pp: PrePrepare = { t: "pp", from: this.config.self, block };
    s.mine.set("pp", pp);
    this.broadcast(pp);
    this.acceptProposal(s, s.v0, block, hash);
  }

  // ---- decisions, execution, catch-up ----

  private acceptDecision(seq: unknown, block: Block, qc: QuorumCertificate, from: string): void {
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
    this.decide(at, { hash, block, qc }, s);
  }

  private onBlocks(entries: unknown, from: string): void {
    if (!Array.isArray(entries)) {
      this.reject(from, "blocks without entries");
      return;
    }
    for (const e of entries as LedgerEntry[]) this.acceptDecision(e?.seq, e?.block, e?.qc, from);
    if (entries.length >= this.config.fetchLimit && this.config.members.includes(from)) {
      this.emit({ type: "send", to: from, msg: this.fetchMsg() });
    }
  }

  private fetchMsg(): Message {
    return { t: "fetch", from: this.config.self, fromSeq: this.nextSeq };
  }

  /** Asks one peer (the one that showed we are behind, else the next in turn) for decided blocks. */
  private requestFetch(peer: string | undefined): void {
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
    this.emit({ type: "timer", key: "fetch", delayMs: this.config.slotTimeoutMs });
  }

  private execute(): void {
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
      this.emit({ type: "commit", entry, hash: d.hash, results });
      this.recent.set(seq, entry);
      this.proposers.set(seq, h.proposer);
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
