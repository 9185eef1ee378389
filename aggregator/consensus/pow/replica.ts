import { hashJson } from "../../../protocol/hash.js";
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
} from "../../ledger/block.js";
import { isLedgerError } from "../../ledger/errors.js";
import type { Signer, Verifier } from "../../ledger/signing.js";
import type { ReplicatedStateMachine } from "../../state/replicated.js";
import { ConsensusError } from "../errors.js";
import type { Message } from "../messages.js";
import type { Input, Output } from "../types.js";
import {
  auditBytes,
  meetsTarget,
  nextBytes,
  type PowAudit,
  type PowNext,
  type PowProposal,
  type PowReply,
  powHash,
  type RewardTx,
  rewardTx,
} from "./messages.js";

export interface PowConfig {
  members: readonly string[];
  self: string;
  /** leading zero bits of the proof-of-work: small, the work only picks a leader */
  difficultyBits: number;
  noncesPerStep: number;
  mineStepMs: number;
  /** re-send after this long; a second expiry starts a new attempt at the height */
  attemptTimeoutMs: number;
  /** leader's reward per block, integer minor units */
  reward: number;
  maxBatch: number;
  fetchLimit: number;
}

export interface PowDeps {
  signer: Signer;
  verifier: Verifier;
  machine: ReplicatedStateMachine;
  validateTx?: (tx: unknown) => boolean;
}

/**
 * Seed 000's mode as a pure state machine with the same inputs and outputs as the PBFT replica. One block
 * per height; unanimity is required (every member's reply), so it tolerates no silent member: that is the
 * seed's design, kept as is and documented in docs/CONSENSUS.md. A member that replied to a block stays
 * with it at that height unless it sees that another member replied elsewhere in the same attempt, which
 * proves the block can never gather all replies; hence two blocks never commit at one height.
 */
export class PowReplica {
  readonly config: PowConfig;
  private readonly n: number;
  private height = 0;
  private prevLink = GENESIS_PREV;
  private attempt = 0;
  private pool = new Map<string, unknown>();
  private mining = false;
  private nonce = 0;
  private readonly proposals = new Map<string, { p: PowProposal; pow: string }>();
  private readonly audits = new Map<string, Map<string, PowAudit>>();
  private readonly replies = new Map<string, Map<string, string>>();
  private lock: { attempt: number; hash: string } | undefined;
  /** my replies at this height, by attempt */
  private readonly myReplies = new Map<number, string>();
  /** each member's latest attempt announcement at this height */
  private readonly nextSeen = new Map<string, { attempt: number; replies: Map<number, string> }>();
  private mine: Message[] = [];
  private ticks = 0;
  private attemptTimer = false;
  private out: Output[] = [];
  private now = 0;

  constructor(
    config: PowConfig,
    private readonly deps: PowDeps,
  ) {
    if (!config.members.includes(config.self))
      throw new ConsensusError("BAD_CONFIG", `${config.self} is not a member`);
    if (
      !Number.isSafeInteger(config.difficultyBits) ||
      config.difficultyBits < 0 ||
      config.difficultyBits > 32
    ) {
      throw new ConsensusError("BAD_CONFIG", "difficultyBits: an integer from 0 to 32");
    }
    if (!Number.isSafeInteger(config.reward) || config.reward < 0) {
      throw new ConsensusError("BAD_CONFIG", "reward: a non-negative integer in minor units");
    }
    this.config = config;
    this.n = config.members.length;
  }

  get committedHeight(): number {
    return this.height;
  }

  step(input: Input, now: number): Output[] {
    this.out = [];
    this.now = now;
    switch (input.type) {
      case "submit":
        this.pool.set(hashJson(input.tx), input.tx);
        this.startMining();
        break;
      case "timer":
        if (input.key === "mine") this.mineStep();
        else if (input.key === "attempt") this.onAttemptTimer();
        break;
      case "restart":
        this.mining = false;
        this.attemptTimer = false;
        for (const m of this.config.members) {
          if (m !== this.config.self)
            this.send(m, { t: "fetch", from: this.config.self, fromSeq: this.height });
        }
        this.startMining();
        break;
      case "message":
        this.onMessage(input.msg);
        break;
      case "restore":
        // Replies given before a restart: the member stays bound by them at this height.
        for (const r of Array.isArray(input.votes) ? input.votes : []) {
          if (r?.seq !== this.height || r.kind !== "commit" || typeof r.hash !== "string") continue;
          this.myReplies.set(r.view, r.hash);
          if (this.lock === undefined || r.view > this.lock.attempt)
            this.lock = { attempt: r.view, hash: r.hash };
          if (r.view > this.attempt) this.attempt = r.view;
        }
        break;
    }
    return this.out;
  }

  private send(to: string, msg: Message): void {
    this.out.push({ type: "send", to, msg });
  }

  private reject(from: string, reason: string): void {
    this.out.push({ type: "rejected", from, reason });
  }

  private armAttempt(): void {
    if (this.attemptTimer) return;
    this.attemptTimer = true;
    this.out.push({ type: "timer", key: "attempt", delayMs: this.config.attemptTimeoutMs });
  }

  private startMining(): void {
    if (this.mining || this.pool.size === 0) return;
    this.mining = true;
    this.nonce = 0;
    this.out.push({ type: "timer", key: "mine", delayMs: 0 });
    this.armAttempt();
  }

  private candidate(): { txs: unknown[]; root: string; block: Block } {
    const txs = [
      rewardTx(this.height, this.config.self, this.config.reward),
      ...[...this.pool.values()].slice(0, this.config.maxBatch),
    ];
    const block = makeBlock(
      { round: this.height, index: 0, view: this.attempt },
      this.now,
      txs,
      this.deps.signer,
    );
    return { txs, root: block.header.txRoot, block };
  }

  private mineStep(): void {
    if (!this.mining) return;
    const { block } = this.candidate();
    for (let k = 0; k < this.config.noncesPerStep; k++, this.nonce++) {
      const pow = powHash(
        this.prevLink,
        this.height,
        this.attempt,
        this.config.self,
        block.header.txRoot,
        this.nonce,
      );
      if (meetsTarget(pow, this.config.difficultyBits)) {
        this.mining = false;
        const p: PowProposal = {
          t: "pow-prop",
          from: this.config.self,
          height: this.height,
          attempt: this.attempt,
          prev: this.prevLink,
          nonce: this.nonce,
          block,
        };
        this.mine.push(p);
        this.send("*", p);
        this.onProposal(p);
        return;
      }
    }
    this.out.push({ type: "timer", key: "mine", delayMs: this.config.mineStepMs });
  }

  private onAttemptTimer(): void {
    this.attemptTimer = false;
    if (this.pool.size === 0 && this.proposals.size === 0) return;
    this.ticks++;
    if (this.ticks % 2 === 1) {
      for (const m of this.mine) this.send("*", { ...m, re: true } as Message);
    } else {
      this.newAttempt(this.attempt + 1);
    }
    this.armAttempt();
  }

  private newAttempt(attempt: number): void {
    this.attempt = attempt;
    this.ticks = 0;
    const replies = [...this.myReplies];
    const next: PowNext = {
      t: "pow-next",
      from: this.config.self,
      height: this.height,
      attempt,
      replies,
      sig: this.deps.signer.sign(nextBytes(this.height, attempt, replies)),
    };
    this.mine = this.mine.filter((m) => m.t === "pow-reply");
    this.mine.push(next);
    this.send("*", next);
    this.mining = false;
    this.startMining();
    this.tryReply();
  }

  private onMessage(msg: Message): void {
    if (typeof msg !== "object" || msg === null) return;
    switch (msg.t) {
      case "pow-prop":
        this.guard(msg.from, msg.height, () => this.onProposal(msg));
        return;
      case "pow-audit":
        this.guard(msg.from, msg.height, () => this.onAudit(msg));
        return;
      case "pow-reply":
        this.guard(msg.from, msg.height, () => this.onReply(msg));
        return;
      case "pow-next":
        this.guard(msg.from, msg.height, () => this.onNext(msg));
        return;
      case "decided":
        this.onDecided(msg.seq, msg.block, msg.qc, msg.from);
        return;
      case "blocks":
        if (Array.isArray(msg.entries))
          for (const e of msg.entries as LedgerEntry[]) this.onDecided(e?.seq, e?.block, e?.qc, msg.from);
        return;
      case "fetch":
        if (this.config.members.includes(msg.from) && Number.isSafeInteger(msg.fromSeq)) {
          this.out.push({ type: "serve", to: msg.from, fromSeq: msg.fromSeq, limit: this.config.fetchLimit });
        }
        return;
      default:
        this.reject(String(msg.from), `message ${String(msg.t)} has no place in proof-of-work mode`);
        return;
    }
  }

  /** Routes a height's message: old heights get the decision pointer, future ones trigger a fetch. */
  private guard(from: string, height: number, handle: () => void): void {
    if (!this.config.members.includes(from)) {
      this.reject(String(from), "message from a non-member");
      return;
    }
    if (!Number.isSafeInteger(height)) {
      this.reject(from, "message without a height");
      return;
    }
    if (height < this.height) {
      this.out.push({ type: "serve", to: from, fromSeq: height, limit: this.config.fetchLimit });
      return;
    }
    if (height > this.height) {
      this.send(from, { t: "fetch", from: this.config.self, fromSeq: this.height });
      return;
    }
    handle();
  }

  private onProposal(p: PowProposal): void {
    if (!Number.isSafeInteger(p.attempt) || p.attempt < this.attempt) return;
    let hash: string;
    try {
      hash = checkBlock(p.block, this.deps.verifier);
    } catch (e) {
      this.reject(p.from, isLedgerError(e) ? e.message : "invalid block");
      return;
    }
    if (this.proposals.has(hash)) return;
    const h = p.block.header;
    if (
      h.round !== this.height ||
      h.index !== 0 ||
      h.view !== p.attempt ||
      h.proposer !== p.from ||
      p.prev !== this.prevLink
    ) {
      this.reject(p.from, "proposal for another position or chain");
      return;
    }
    const pow = powHash(p.prev, p.height, p.attempt, p.from, h.txRoot, p.nonce);
    if (!Number.isSafeInteger(p.nonce) || !meetsTarget(pow, this.config.difficultyBits)) {
      this.reject(p.from, "proposal without a valid proof of work");
      return;
    }
    if (p.attempt > this.attempt) this.newAttempt(p.attempt);
    this.mining = false;
    this.proposals.set(hash, { p, pow });
    this.armAttempt();
    const reward = p.block.txs[0] as RewardTx;
    const check = this.deps.validateTx;
    const ok =
      reward?.kind === "reward" &&
      reward.to === p.from &&
      reward.amount === this.config.reward &&
      reward.id === `reward/${this.height}` &&
      p.block.txs.slice(1).every((tx) => check === undefined || check(tx));
    const audit: PowAudit = {
      t: "pow-audit",
      from: this.config.self,
      height: this.height,
      attempt: p.attempt,
      hash,
      ok,
      sig: this.deps.signer.sign(auditBytes(this.height, p.attempt, hash, ok)),
    };
    this.mine.push(audit);
    this.send("*", audit);
    this.onAudit(audit);
  }

  private onAudit(a: PowAudit): void {
    let m = this.audits.get(a.hash);
    if (m?.has(a.from)) return;
    if (
      typeof a.ok !== "boolean" ||
      !this.deps.verifier.verify(a.from, auditBytes(a.height, a.attempt, a.hash, a.ok), a.sig)
    ) {
      this.reject(a.from, "bad audit signature");
      return;
    }
    if (m === undefined) {
      m = new Map();
      this.audits.set(a.hash, m);
    }
    m.set(a.from, a);
    this.tryReply();
  }

  private onNext(x: PowNext): void {
    const seen = this.nextSeen.get(x.from);
    if (seen !== undefined && seen.attempt >= x.attempt) return;
    if (
      !Array.isArray(x.replies) ||
      !this.deps.verifier.verify(x.from, nextBytes(x.height, x.attempt, x.replies), x.sig)
    ) {
      this.reject(x.from, "bad attempt announcement");
      return;
    }
    this.nextSeen.set(x.from, { attempt: x.attempt, replies: new Map(x.replies) });
    this.tryReply();
  }

  /** True when the locked block provably cannot gather every reply in its attempt. */
  private lockLost(lock: { attempt: number; hash: string }): boolean {
    for (const k of this.replies.keys()) {
      const [a, hash] = k.split(":");
      if (Number(a) === lock.attempt && hash !== lock.hash) return true;
    }
    for (const { attempt, replies } of this.nextSeen.values()) {
      if (attempt > lock.attempt && replies.get(lock.attempt) !== lock.hash) return true;
    }
    return false;
  }

  /** Compares the audits: replies once per attempt, to the lowest proof of work that everyone found sound. */
  private tryReply(): void {
    if (this.myReplies.has(this.attempt)) return;
    if (this.lock !== undefined) {
      if (!this.lockLost(this.lock)) return;
      this.lock = undefined;
    }
    let best: { hash: string; pow: string } | undefined;
    for (const [hash, { p, pow }] of this.proposals) {
      if (p.attempt !== this.attempt) continue;
      const a = this.audits.get(hash);
      if (a === undefined || a.size < this.n || ![...a.values()].every((x) => x.ok)) continue;
      if (best === undefined || pow < best.pow) best = { hash, pow };
    }
    if (best === undefined) return;
    this.lock = { attempt: this.attempt, hash: best.hash };
    this.myReplies.set(this.attempt, best.hash);
    // Persisted before it is sent: a member that forgot its reply could let two blocks through.
    this.out.push({
      type: "vote",
      record: { seq: this.height, kind: "commit", view: this.attempt, hash: best.hash },
    });
    const reply: PowReply = {
      t: "pow-reply",
      from: this.config.self,
      height: this.height,
      attempt: this.attempt,
      hash: best.hash,
      sig: this.deps.signer.sign(voteBytes("commit", this.height, 0, this.attempt, best.hash)),
    };
    this.mine.push(reply);
    this.send("*", reply);
    this.onReply(reply);
  }

  private onReply(r: PowReply): void {
    const key = `${r.attempt}:${r.hash}`;
    let m = this.replies.get(key);
    if (m?.has(r.from)) return;
    if (!this.deps.verifier.verify(r.from, voteBytes("commit", r.height, 0, r.attempt, r.hash), r.sig)) {
      this.reject(r.from, "bad reply signature");
      return;
    }
    if (m === undefined) {
      m = new Map();
      this.replies.set(key, m);
    }
    m.set(r.from, r.sig);
    const prop = this.proposals.get(r.hash);
    if (m.size === this.n && prop !== undefined) {
      const qc: QuorumCertificate = { view: r.attempt, votes: [...m].map(([from, sig]) => ({ from, sig })) };
      // The leader tells stragglers; the others only need the replies they already broadcast.
      if (prop.p.from === this.config.self)
        this.send("*", { t: "decided", from: this.config.self, seq: this.height, block: prop.p.block, qc });
      this.commit(r.hash, prop.p.block, qc);
    } else {
      this.tryReply();
    }
  }

  private onDecided(seq: unknown, block: Block, qc: QuorumCertificate, from: string): void {
    if (seq !== this.height) {
      if (typeof seq === "number" && seq > this.height)
        this.send(from, { t: "fetch", from: this.config.self, fromSeq: this.height });
      return;
    }
    try {
      const hash = checkBlock(block, this.deps.verifier);
      if (block.header.round !== seq || block.header.index !== 0) {
        this.reject(from, "decision at the wrong height");
        return;
      }
      checkCertificate(block.header, hash, qc, new Set(this.config.members), this.n, this.deps.verifier);
      this.commit(hash, block, qc);
    } catch (e) {
      this.reject(from, isLedgerError(e) ? e.message : "invalid decision");
    }
  }

  private commit(hash: string, block: Block, qc: QuorumCertificate): void {
    const seq = this.height;
    const h = block.header;
    const ctx = { time: h.time, height: seq, proposer: h.proposer };
    const results = block.txs.map((tx) => this.deps.machine.apply(tx, ctx));
    const link = linkHash(seq, this.prevLink, hash);
    this.out.push({ type: "commit", entry: { seq, prev: this.prevLink, link, block, qc }, hash, results });
    this.prevLink = link;
    this.height++;
    for (const tx of block.txs.slice(1)) this.pool.delete(hashJson(tx));
    this.attempt = 0;
    this.ticks = 0;
    this.lock = undefined;
    this.myReplies.clear();
    this.nextSeen.clear();
    this.mine = [];
    this.proposals.clear();
    this.audits.clear();
    this.replies.clear();
    this.mining = false;
    this.startMining();
  }
}
