import { defaultEd25519 } from "../../../protocol/crypto/index.js";
import { sha256 } from "../../../protocol/hash.js";
import type { LedgerEntry } from "../../ledger/block.js";
import { KvMachine, type KvTx } from "../../ledger/kv-machine.js";
import {
  cachingVerifier,
  ed25519Signer,
  ed25519Verifier,
  type Signer,
  simSigner,
  simVerifier,
  type Verifier,
} from "../../ledger/signing.js";
import type { CheckpointRecord } from "../../ledger/store.js";
import type { ReplicatedStateMachine } from "../../state/replicated.js";
import type { Message } from "../messages.js";
import { type PowConfig, PowReplica } from "../pow/replica.js";
import { Replica } from "../replica.js";
import { DEFAULT_CONFIG, type Input, type Output, type ReplicaConfig, type VoteRecord } from "../types.js";
import { type ByzantineBehaviour, corrupt } from "./byzantine.js";
import { CpuMeter, type CpuModel } from "./cpu.js";
import { EventQueue } from "./queue.js";
import { Rng } from "./rng.js";
import { SignedOnce } from "./signed-once.js";

export const DEFAULT_POW: Omit<PowConfig, "members" | "self"> = {
  difficultyBits: 8,
  noncesPerStep: 16,
  mineStepMs: 1,
  attemptTimeoutMs: 150,
  reward: 1000,
  maxBatch: 64,
  fetchLimit: 64,
};

export interface NetworkFaults {
  drop: number;
  duplicate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/** The state machine a replica executes, and the check its consensus core runs on proposed transactions. */
export interface SimMachine<M extends ReplicatedStateMachine> {
  machine: M;
  validateTx?: (tx: unknown) => boolean;
}

export interface SimOptions<M extends ReplicatedStateMachine = KvMachine> {
  seed: number;
  n: number;
  /** "sim" uses keyed hashes (fast, for many seeds); "ed25519" real signatures */
  signatures: "sim" | "ed25519";
  config?: Partial<Omit<ReplicaConfig, "members" | "self">>;
  net?: Partial<NetworkFaults>;
  byzantine?: { id: string; behaviour: ByzantineBehaviour };
  /** "pbft" (default) or seed 000's proof-of-work mode */
  mode?: "pbft" | "pow";
  pow?: Partial<Omit<PowConfig, "members" | "self">>;
  /**
   * When the shell's writes are on disk. "before-send" (default, ReplicaHost's group commit): every write
   * of a step is durable before any of its messages leaves. "lazy" (synchronous=NORMAL without group
   * commit): messages leave at once, writes reach the disk every `syncEveryMs`. Only a power cut
   * (`powerCut`) tells the two apart; a crash of the process keeps every write.
   */
  durability?: "before-send" | "lazy";
  syncEveryMs?: number;
  /**
   * Each replica's state machine, made afresh at the start and on every restart (a restart re-executes
   * what the replica kept). The counter machine (KvMachine) unless given: the ledger scenarios pass the
   * real LedgerMachine here.
   */
  machine?: (id: string) => SimMachine<M>;
  /** simulated clock at the start, ms since epoch (blocks carry it as their time); 0 unless given */
  startTime?: number;
  /** what work costs each replica (sim/cpu.ts); absent, steps take no time */
  cpu?: CpuModel;
}

/** What the simulator drives: either consensus core. */
export interface Core {
  step(input: Input, now: number): Output[];
}

interface SimReplica<M> {
  id: string;
  signer: Signer;
  core: Core;
  machine: M;
  alive: boolean;
  /** what the shell persisted: decided blocks in order */
  store: LedgerEntry[];
  timers: Map<string, number>;
  epoch: number;
  ownCheckpoints: Map<number, string>;
  stable: CheckpointRecord[];
  /** what the shell persisted: own votes in undecided slots */
  votes: VoteRecord[];
  /** what of it is on disk, i.e. survives a power cut: the last fsync's view */
  disk: { stored: number; votes: VoteRecord[]; stable: CheckpointRecord[] };
  /** its work: signatures checked and made, busy until when (sim/cpu.ts) */
  cpu: CpuMeter;
}

type Event =
  | { kind: "deliver"; from: string; to: string; msg: Message }
  | { kind: "timer"; to: string; key: string; gen: number; epoch: number }
  | { kind: "action"; run: () => void }
  | { kind: "sync" };

/** A safety violation found while running: the run stops being trustworthy at that point. */
export interface Violation {
  what: string;
  detail: string;
}

/**
 * Drives n replicas through a seeded, adversarial network: message loss, delay, duplication and
 * reordering, crashes and restarts (with persisted state or empty plus catch-up), partitions, and at most
 * one Byzantine member. Safety is checked on every commit and checkpoint of the honest replicas.
 */
export class Simulation<M extends ReplicatedStateMachine = KvMachine> {
  readonly members: string[];
  readonly rng: Rng;
  readonly violations: Violation[] = [];
  readonly faults: { kind: string; member: string; by: string }[] = [];
  now = 0;
  private readonly queue = new EventQueue<Event>();
  private readonly replicas = new Map<string, SimReplica<M>>();
  private readonly decisions = new Map<number, string>();
  private readonly checkpointHashes = new Map<number, string>();
  private readonly net: NetworkFaults;
  private readonly config: Omit<ReplicaConfig, "members" | "self">;
  private readonly verifier: Verifier;
  private readonly signers = new Map<string, Signer>();
  private partition: string[][] | null = null;
  /** ed25519 public keys of the members, when running with real signatures */
  publicKeys: ReadonlyMap<string, Uint8Array> = new Map();
  private timerGen = 0;
  messagesSent = 0;
  /** a targeted fault on top of the random ones: messages for which it returns true are lost */
  dropIf: ((from: string, to: string, msg: Message) => boolean) | undefined;
  /**
   * A targeted power cut: when it returns a restart delay (ms) for a message a member sends, the member
   * loses power right after that step and comes back from its disk after the delay.
   */
  cutPowerAfter: ((from: string, msg: Message) => number | undefined) | undefined;
  private readonly signedOnce = new SignedOnce();
  private readonly durability: "before-send" | "lazy";
  powerCuts = 0;
  /** view changes the replicas started (each member's own) */
  viewChanges = 0;

  constructor(readonly options: SimOptions<M>) {
    this.rng = new Rng(options.seed);
    this.now = options.startTime ?? 0;
    this.members = Array.from({ length: options.n }, (_, i) => `eag${i}`);
    this.net = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 10, ...options.net };
    this.config = {
      ...DEFAULT_CONFIG,
      batchDelayMs: 2,
      slotTimeoutMs: 60,
      maxBatch: 16,
      voteBatchMs: 6,
      ...options.config,
    };
    if (options.signatures === "ed25519") {
      const keys = new Map<string, Uint8Array>();
      for (const id of this.members) {
        const seed = sha256(`sim-key/${options.seed}/${id}`);
        keys.set(id, defaultEd25519.publicKey(seed));
        this.signers.set(id, ed25519Signer(id, seed, defaultEd25519));
      }
      this.verifier = ed25519Verifier(keys, defaultEd25519);
      this.publicKeys = keys;
    } else {
      const secrets = new Map(this.members.map((id) => [id, `secret/${options.seed}/${id}`]));
      for (const [id, s] of secrets) this.signers.set(id, simSigner(id, s));
      this.verifier = simVerifier(secrets);
    }
    for (const id of this.members) this.replicas.set(id, this.fresh(id));
    this.durability = options.durability ?? "before-send";
    if (this.durability === "lazy") this.queue.push(options.syncEveryMs ?? 50, { kind: "sync" });
  }

  get honest(): string[] {
    return this.members.filter((m) => m !== this.options.byzantine?.id);
  }

  private fresh(id: string): SimReplica<M> {
    const made = this.options.machine?.(id) ?? { machine: new KvMachine() as unknown as M };
    const machine = made.machine;
    const cpu = new CpuMeter();
    const signer = cpu.signer(this.signers.get(id)!);
    // checks that passed are remembered, as the node does (node.ts): a batch signature behind many
    // certificates costs one check
    const verifier = cachingVerifier(cpu.verifier(this.verifier));
    const deps = { signer, verifier, machine, validateTx: made.validateTx };
    const core: Core =
      this.options.mode === "pow"
        ? new PowReplica({ ...DEFAULT_POW, ...this.options.pow, members: this.members, self: id }, deps)
        : new Replica({ ...this.config, members: this.members, self: id }, deps);
    return {
      id,
      signer,
      core,
      machine,
      alive: true,
      store: [],
      timers: new Map(),
      epoch: 0,
      ownCheckpoints: new Map(),
      stable: [],
      votes: [],
      disk: { stored: 0, votes: [], stable: [] },
      cpu,
    };
  }

  /** A replica's work so far: signatures checked and made, and simulated CPU time (with `cpu`). */
  work(id: string): { verifies: number; signs: number; workMs: number } {
    const c = this.replicas.get(id)!.cpu;
    return { verifies: c.verifies, signs: c.signs, workMs: c.workMs };
  }

  /** An fsync: everything the shell wrote so far is on disk. */
  private sync(r: SimReplica<M>): void {
    r.disk = { stored: r.store.length, votes: [...r.votes], stable: [...r.stable] };
  }

  replica(id: string): {
    core: Core;
    machine: M;
    alive: boolean;
    store: readonly LedgerEntry[];
    stable: readonly CheckpointRecord[];
  } {
    return this.replicas.get(id)!;
  }

  /** Schedules `run` at absolute simulated time `at`. */
  at(at: number, run: () => void): void {
    this.queue.push(at, { kind: "action", run });
  }

  submit(id: string, tx: M extends KvMachine ? KvTx : unknown): void {
    this.input(this.replicas.get(id)!, { type: "submit", tx });
  }

  crash(id: string): void {
    const r = this.replicas.get(id)!;
    r.alive = false;
    r.epoch++;
    r.timers.clear();
  }

  /**
   * The member loses power: it stops, and every write after its last fsync is gone (the decided blocks,
   * votes and checkpoints it wrote since). Restart it with `restart(id, "persisted")`.
   */
  powerCut(id: string): void {
    const r = this.replicas.get(id)!;
    if (!r.alive) return;
    this.crash(id);
    this.powerCuts++;
    r.store = r.store.slice(0, r.disk.stored);
    r.votes = [...r.disk.votes];
    r.stable = [...r.disk.stable];
  }

  /**
   * Restart after a crash, as a new process: "persisted" rebuilds from what the shell stored (decided
   * blocks and own votes), "empty" starts from nothing and must catch up from its peers.
   */
  restart(id: string, mode: "persisted" | "empty"): void {
    const old = this.replicas.get(id)!;
    const r: SimReplica<M> = { ...this.fresh(id), epoch: old.epoch + 1 };
    this.replicas.set(id, r);
    r.alive = true;
    if (mode === "empty") this.signedOnce.forget(id);
    if (mode === "persisted") {
      const stored = old.store;
      // Replaying re-commits the stored blocks; the store keeps them once.
      for (let seq = 0; seq < stored.length; seq += 64) {
        this.input(r, {
          type: "message",
          msg: { t: "blocks", from: id, entries: stored.slice(seq, seq + 64) },
        });
      }
      r.stable = old.stable;
      // the votes stay in the store across restarts, as in the block store's table
      r.votes = old.votes.filter((v) => v.seq >= r.store.length);
      this.input(r, { type: "restore", votes: [...r.votes] });
    }
    this.input(r, { type: "restart" });
    // what a restarted member finds on disk is on disk
    this.sync(r);
  }

  setPartition(groups: string[][] | null): void {
    this.partition = groups;
  }

  private connected(a: string, b: string): boolean {
    if (this.partition === null) return true;
    return this.partition.some((g) => g.includes(a) && g.includes(b));
  }

  private input(r: SimReplica<M>, input: Input): void {
    if (!r.alive) return;
    const before = { verifies: r.cpu.verifies, signs: r.cpu.signs };
    // (with a CPU model the clock has fractions of a millisecond; a core sees whole ones, as from Date.now)
    const outputs = r.core.step(input, Math.floor(this.now));
    const model = this.options.cpu;
    if (model !== undefined) {
      // the step's outputs leave when its work is done (the clock is put back for the next event)
      const start = this.now;
      r.cpu.busyUntil = Math.max(start, r.cpu.busyUntil) + r.cpu.cost(model, r.id, before);
      this.now = r.cpu.busyUntil;
      try {
        this.finishStep(r, outputs);
      } finally {
        this.now = start;
      }
      return;
    }
    this.finishStep(r, outputs);
  }

  private finishStep(r: SimReplica<M>, outputs: Output[]): void {
    const byz = this.options.byzantine;
    if (byz !== undefined && byz.id === r.id)
      outputs = corrupt(byz.behaviour, outputs, r.signer, this.members, this.rng);
    if (this.durability === "lazy") {
      for (const o of outputs) this.handle(r, o);
      return;
    }
    // group commit: the step's writes, one fsync, then what leaves the member
    const leaving: Output[] = [];
    for (const o of outputs) {
      if (o.type === "send" || o.type === "serve") leaving.push(o);
      else this.handle(r, o);
    }
    this.sync(r);
    for (const o of leaving) this.handle(r, o);
  }

  private handle(r: SimReplica<M>, o: Output): void {
    switch (o.type) {
      case "send":
        if (o.to === "*") {
          for (const m of this.members) if (m !== r.id) this.send(r.id, m, o.msg);
        } else {
          this.send(r.id, o.to, o.msg);
        }
        if (o.msg.t === "ckpt" && o.msg.from === r.id) this.noteCheckpoint(r, o.msg.round, o.msg.stateHash);
        return;
      case "timer": {
        const gen = ++this.timerGen;
        r.timers.set(o.key, gen);
        this.queue.push(this.now + o.delayMs, { kind: "timer", to: r.id, key: o.key, gen, epoch: r.epoch });
        return;
      }
      case "commit":
        this.noteCommit(r, o.entry, o.hash);
        if (o.entry.seq % 16 === 15) r.votes = r.votes.filter((v) => v.seq > o.entry.seq);
        return;
      case "vote":
        r.votes.push(o.record);
        if (o.record.kind === "vc") this.viewChanges++;
        return;
      case "serve": {
        const entries = r.store.slice(o.fromSeq, o.fromSeq + o.limit);
        if (entries.length > 0) this.send(r.id, o.to, { t: "blocks", from: r.id, entries });
        return;
      }
      case "fault":
        this.faults.push({ kind: o.kind, member: o.member, by: r.id });
        if (o.kind === "divergence" && this.isHonest(r.id))
          this.violations.push({ what: "divergence", detail: o.detail });
        return;
      case "checkpoint":
        r.stable.push(o.record);
        return;
      case "rejected":
        return;
    }
  }

  private isHonest(id: string): boolean {
    return id !== this.options.byzantine?.id;
  }

  private noteCommit(r: SimReplica<M>, entry: LedgerEntry, hash: string): void {
    if (entry.seq !== r.store.length) {
      this.violations.push({
        what: "order",
        detail: `${r.id} committed ${entry.seq} after ${r.store.length - 1}`,
      });
    }
    r.store.push(entry);
    if (!this.isHonest(r.id)) return;
    const known = this.decisions.get(entry.seq);
    if (known === undefined) this.decisions.set(entry.seq, hash);
    else if (known !== hash) {
      this.violations.push({
        what: "safety",
        detail: `slot ${entry.seq}: ${r.id} committed ${hash}, another ${known}`,
      });
    }
  }

  private noteCheckpoint(r: SimReplica<M>, round: number, stateHash: string): void {
    r.ownCheckpoints.set(round, stateHash);
    if (!this.isHonest(r.id)) return;
    const known = this.checkpointHashes.get(round);
    if (known === undefined) this.checkpointHashes.set(round, stateHash);
    else if (known !== stateHash) {
      this.violations.push({
        what: "checkpoint",
        detail: `round ${round}: ${r.id} has state ${stateHash}, another ${known}`,
      });
    }
  }

  private send(from: string, to: string, msg: Message): void {
    this.messagesSent++;
    if (this.isHonest(from)) {
      const conflict = this.signedOnce.note(from, msg);
      if (conflict !== undefined) this.violations.push({ what: "double-vote", detail: conflict });
    }
    const restartAfter = this.cutPowerAfter?.(from, msg);
    if (restartAfter !== undefined) {
      // after the step that sends it: the queue runs same-time actions after the current event
      this.at(this.now, () => this.powerCut(from));
      this.at(this.now + restartAfter, () => this.restart(from, "persisted"));
    }
    if (this.dropIf?.(from, to, msg)) return;
    const copies = this.rng.chance(this.net.duplicate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.rng.chance(this.net.drop)) continue;
      const delay = this.rng.int(this.net.minDelayMs, this.net.maxDelayMs);
      this.queue.push(this.now + delay, { kind: "deliver", from, to, msg });
    }
  }

  /** Runs events up to simulated time `until` (ms). */
  run(until: number): void {
    for (let t = this.queue.peekTime(); t !== undefined && t <= until; t = this.queue.peekTime()) {
      const { at, item } = this.queue.pop()!;
      this.now = at;
      switch (item.kind) {
        case "action":
          item.run();
          break;
        case "sync":
          for (const r of this.replicas.values()) if (r.alive) this.sync(r);
          this.queue.push(at + (this.options.syncEveryMs ?? 50), item);
          break;
        case "deliver": {
          const r = this.replicas.get(item.to)!;
          if (this.busy(r, at, item)) break;
          if (r.alive && this.connected(item.from, item.to))
            this.input(r, { type: "message", msg: item.msg });
          break;
        }
        case "timer": {
          const r = this.replicas.get(item.to)!;
          if (this.busy(r, at, item)) break;
          if (r.epoch === item.epoch && r.timers.get(item.key) === item.gen) {
            r.timers.delete(item.key);
            this.input(r, { type: "timer", key: item.key });
          }
          break;
        }
      }
    }
    this.now = until;
  }

  /** With a CPU model, an event for a replica still at work waits until it is free. */
  private busy(r: SimReplica<M>, at: number, item: Event): boolean {
    if (this.options.cpu === undefined || !r.alive || r.cpu.busyUntil <= at) return false;
    this.queue.push(r.cpu.busyUntil, item);
    return true;
  }

  /** Transactions committed by an (alive) replica, by id. */
  committedIds(id: string): Set<string> {
    const out = new Set<string>();
    for (const e of this.replicas.get(id)!.store) for (const tx of e.block.txs) out.add((tx as KvTx).id);
    return out;
  }

  checkpointsOf(id: string): ReadonlyMap<number, string> {
    return this.replicas.get(id)!.ownCheckpoints;
  }
}
