import { createLogger } from "../../../protocol/log.js";
import type { LedgerEntry } from "../../ledger/block.js";
import type { CheckpointRecord } from "../../ledger/store.js";
import type { ConsensusCore } from "../config.js";
import type { Message } from "../messages.js";
import type { Output, VoteRecord } from "../types.js";
import { HostStats, type StepCause } from "./host-stats.js";

const log = createLogger("consensus:host");

/** How a host reaches its peers; the messages are self-authenticating, so any carrier will do. */
export interface Link {
  send(to: string, msg: Message): void;
  broadcast(msg: Message): void;
  /** the peers reachable now, when the carrier knows */
  connectedPeers?(): string[];
}

/** Where decided blocks go; BlockStore (SQLite) implements it, MemoryLog for benches and tests. */
export interface DecidedLog {
  head(): { nextSeq: number };
  append(entry: LedgerEntry, hash: string): void;
  list(fromSeq: number, limit: number): LedgerEntry[];
  putCheckpoint(c: CheckpointRecord): void;
  /** own votes in undecided slots, kept across restarts */
  putVote(record: VoteRecord): void;
  votes<T = VoteRecord>(): T[];
  pruneVotes(belowSeq: number): void;
  /**
   * Runs `fn`'s writes as one durable transaction (BlockStore: one fsync); absent, the writes run as
   * they come (MemoryLog).
   */
  transaction?<T>(fn: () => T): T;
}

/** A message in a trace line: its kind, sender and slots (never its contents); read defensively. */
function summary(m: Message): Record<string, unknown> {
  try {
    return summaryOf(m);
  } catch {
    return { t: String(m?.t), malformed: true };
  }
}

function summaryOf(m: Message): Record<string, unknown> {
  const slots = (xs: { round: number; index: number; view?: number }[]) =>
    xs.map((x) => `${x.round}:${x.index}${x.view === undefined ? "" : `v${x.view}`}`).join(",");
  switch (m.t) {
    case "votes":
      return {
        t: m.t,
        from: m.from,
        re: m.re === true,
        prepare: slots(m.votes.filter((v) => v.kind === "prepare")),
        commit: slots(m.votes.filter((v) => v.kind === "commit")),
      };
    case "vcs":
      return { t: m.t, from: m.from, re: m.re === true, vc: slots(m.vcs) };
    case "pp":
      return { t: m.t, from: m.from, re: m.re === true, slot: slots([m.block.header]) };
    case "prepare":
    case "commit":
    case "vc":
    case "nv":
      return { t: m.t, from: m.from, re: m.re === true, slot: slots([m]) };
    case "decided":
    case "fetch":
      return { t: m.t, from: m.from, seq: m.t === "decided" ? m.seq : m.fromSeq };
    default:
      return { t: m.t, from: m.from };
  }
}

export class MemoryLog implements DecidedLog {
  readonly entries: LedgerEntry[] = [];
  readonly checkpoints: CheckpointRecord[] = [];
  head(): { nextSeq: number } {
    return { nextSeq: this.entries.length };
  }
  append(entry: LedgerEntry): void {
    this.entries.push(entry);
  }
  list(fromSeq: number, limit: number): LedgerEntry[] {
    return this.entries.slice(fromSeq, fromSeq + limit);
  }
  putCheckpoint(c: CheckpointRecord): void {
    this.checkpoints.push(c);
  }
  private ownVotes: VoteRecord[] = [];
  putVote(record: VoteRecord): void {
    this.ownVotes.push(record);
  }
  votes<T = VoteRecord>(): T[] {
    return this.ownVotes as T[];
  }
  pruneVotes(belowSeq: number): void {
    this.ownVotes = this.ownVotes.filter((v) => v.seq >= belowSeq);
  }
}

export interface HostEvents {
  commit?: (entry: LedgerEntry, hash: string, at: number) => void;
  checkpoint?: (c: CheckpointRecord) => void;
}

/**
 * The thin shell around the pure core: real timers (one per key, re-arming replaces), the clock, the
 * block log and a link to the peers. Everything that decides anything stays in Replica.
 *
 * Group commit: what the core asks to persist (votes, decided blocks, checkpoints) is written in one
 * transaction per turn of the event loop, and everything that leaves the host (messages to peers, commit
 * and checkpoint events, answers to fetches) is held until that transaction is on disk. A vote or a
 * proposal is therefore never seen by a peer before it would survive a power cut, so a member that loses
 * power cannot sign something else for the same slot and view after its restart; and many steps share
 * one fsync. A step that writes nothing, while nothing else waits, releases its output at once; so does
 * every step over a log that is not durable (MemoryLog, for benches and tests).
 */
export class ReplicaHost {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** writes of this turn, and what waits for them to be durable, in output order */
  private writes: (() => void)[] = [];
  private held: (() => void)[] = [];
  private flushScheduled = false;
  /** durable transactions and the writes they carried, for the stats and tests */
  readonly durability = { transactions: 0, writes: 0 };
  // Until start() has replayed the stored ledger, messages from peers would reach a core that has not.
  private stopped = true;
  /** entries below this position are already in the log (replayed at start) */
  private persisted = 0;
  readonly rejected = new Map<string, number>();
  readonly stats: HostStats;

  constructor(
    readonly core: ConsensusCore & {
      readonly config: { readonly self: string; readonly members: readonly string[] };
    },
    private readonly link: Link,
    private readonly decided: DecidedLog,
    private readonly events: HostEvents = {},
    private readonly clock: () => number = Date.now,
    /** given when the owner counts signature checks into it (countingVerifier) */
    stats?: HostStats,
  ) {
    this.stats = stats ?? new HostStats(core.config.members.length);
  }

  get id(): string {
    return this.core.config.self;
  }

  deliver(msg: Message): void {
    if (this.stopped) return;
    const now = this.clock();
    if (msg.from !== this.id) this.stats.message(msg, now);
    if (log.enabled("trace")) log.trace("consensus in", { self: this.id, ...summary(msg) });
    this.apply(this.core.step({ type: "message", msg }, now), "message");
  }

  submit(tx: unknown): void {
    if (!this.stopped) this.apply(this.core.step({ type: "submit", tx }, this.clock()), "submit");
  }

  /**
   * Starts: first replays the blocks already in the log through the core (each re-checked against its
   * certificate, so a damaged file cannot smuggle in a decision), then arms timers and asks the peers for
   * whatever was decided while we were away.
   */
  start(): void {
    this.stopped = false;
    this.persisted = this.decided.head().nextSeq;
    for (let seq = 0; seq < this.persisted; ) {
      const entries = this.decided.list(seq, 256);
      if (entries.length === 0) break;
      this.apply(
        this.core.step({ type: "message", msg: { t: "blocks", from: this.id, entries } }, this.clock()),
        "start",
      );
      seq += entries.length;
    }
    this.apply(
      this.core.step({ type: "restore", votes: this.decided.votes<VoteRecord>() }, this.clock()),
      "start",
    );
    this.apply(this.core.step({ type: "restart" }, this.clock()), "start");
    // the replayed blocks were on disk already: their events belong to start(), not to a later turn
    this.flush();
  }

  /** Slots waiting for a decision (their timers run): work outstanding, whether or not it moves. */
  waitingSlots(): number {
    let n = 0;
    for (const key of this.timers.keys()) if (key.startsWith("slot:")) n++;
    return n;
  }

  stop(): void {
    // what the core already decided to persist still goes to disk; held messages go out with it
    this.flush();
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Writes this turn's records in one transaction, then releases what waited for them. */
  flush(): void {
    this.flushScheduled = false;
    const writes = this.writes;
    const held = this.held;
    this.writes = [];
    this.held = [];
    if (writes.length > 0) {
      const all = () => {
        for (const w of writes) w();
      };
      if (this.decided.transaction !== undefined) this.decided.transaction(all);
      else all();
      this.durability.transactions += 1;
      this.durability.writes += writes.length;
    }
    for (const h of held) h();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private apply(outputs: Output[], cause: StepCause): void {
    this.stats.outputs(outputs, cause, this.clock());
    if (log.enabled("trace"))
      for (const o of outputs)
        if (o.type === "send") log.trace("consensus out", { self: this.id, to: o.to, ...summary(o.msg) });
        else if (o.type === "vote" || o.type === "commit")
          log.trace(`consensus ${o.type}`, {
            self: this.id,
            seq: o.type === "vote" ? o.record.seq : o.entry.seq,
            ...(o.type === "vote" ? { kind: o.record.kind, view: o.record.view } : {}),
          });
    for (const o of outputs) {
      switch (o.type) {
        case "timer":
          this.arm(o.key, o.delayMs);
          break;
        case "vote":
          this.writes.push(() => this.decided.putVote(o.record));
          break;
        case "commit": {
          const { entry, hash } = o;
          this.writes.push(() => {
            if (entry.seq >= this.persisted) this.decided.append(entry, hash);
            // Votes of decided positions are no longer needed; pruned in batches to spare the disk.
            if (entry.seq % 64 === 63) this.decided.pruneVotes(entry.seq + 1);
          });
          this.held.push(() => this.events.commit?.(entry, hash, this.clock()));
          break;
        }
        case "checkpoint": {
          const record = o.record;
          this.writes.push(() => this.decided.putCheckpoint(record));
          this.held.push(() => this.events.checkpoint?.(record));
          break;
        }
        default:
          this.held.push(() => this.release(o));
      }
    }
    if (this.writes.length === 0 || this.decided.transaction === undefined) {
      // nothing waits for the disk (no write this turn, or a log that is not durable anyway): go now
      this.flush();
    } else {
      this.scheduleFlush();
    }
  }

  private arm(key: string, delayMs: number): void {
    const old = this.timers.get(key);
    if (old !== undefined) clearTimeout(old);
    const t = setTimeout(() => {
      this.timers.delete(key);
      if (!this.stopped) this.apply(this.core.step({ type: "timer", key }, this.clock()), "timer");
    }, delayMs);
    t.unref?.();
    this.timers.set(key, t);
  }

  /** An output that leaves the host, once the turn's writes are durable. */
  private release(o: Output): void {
    switch (o.type) {
      case "send":
        if (o.to === "*") this.link.broadcast(o.msg);
        else this.link.send(o.to, o.msg);
        break;
      case "serve": {
        const entries = this.decided.list(o.fromSeq, o.limit);
        if (entries.length > 0 && o.to !== this.id)
          this.link.send(o.to, { t: "blocks", from: this.id, entries });
        break;
      }
      case "rejected":
        this.rejected.set(o.reason, (this.rejected.get(o.reason) ?? 0) + 1);
        log.debug("message rejected", { self: this.id, from: o.from, reason: o.reason });
        break;
      case "fault":
        log.warn("fault detected", { self: this.id, kind: o.kind, member: o.member, detail: o.detail });
        break;
      default:
        break;
    }
  }
}
