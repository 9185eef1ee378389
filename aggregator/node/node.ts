import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import type { Envelope } from "../../protocol/envelope.js";
import type { Certificate, RevocationList } from "../../protocol/identity.js";
import { createLogger } from "../../protocol/log.js";
import type { CreditBill } from "../../protocol/messages/credit.js";
import type { Fill } from "../../protocol/messages/trading.js";
import { type ConsensusConfig, consensusConfigSchema, createCore } from "../consensus/config.js";
import type { Message } from "../consensus/messages.js";
import { type Link, ReplicaHost } from "../consensus/transport/host.js";
import { HostStats } from "../consensus/transport/host-stats.js";
import { ConsensusWatch } from "../consensus/transport/watch.js";
import type { CreditBankService, PreparedGrant } from "../credit/service.js";
import type { LedgerEntry } from "../ledger/block.js";
import { cachingVerifier, countingVerifier, ed25519Signer, ed25519Verifier } from "../ledger/signing.js";
import { type BlockStore, initLedgerMeta } from "../ledger/store.js";
import { agentsOfEvent, type LedgerEvent } from "../state/events.js";
import type { Tx } from "../state/handler.js";
import { fillsFromEvents } from "../state/messages.js";
import { type AgentView, agentView } from "../state/views.js";
import { systemDuties } from "./duties.js";
import { type EnvelopeSigner, registerEnvelope, revocationsEnvelope, sysEnvelope } from "./envelopes.js";
import { NodeError } from "./errors.js";
import type { LedgerGenesis } from "./genesis.js";
import { type AppliedTx, LedgerMachine } from "./machine.js";
import type { SignatureCache } from "./sig-cache.js";
import { LEDGER_MACHINE_NAME } from "./verify.js";

const log = createLogger("aggregator:node");

export { LEDGER_MACHINE_NAME } from "./verify.js";

export type NodeConsensusOptions = Partial<Omit<ConsensusConfig, "consortium">>;

export interface AggregatorNodeOptions {
  self: string;
  /** this aggregator's ed25519 seed: signs its consensus votes and its system envelopes */
  seed: Uint8Array;
  genesis: LedgerGenesis;
  /** opened by the caller; the node records the members, machine and genesis in its meta */
  store: BlockStore;
  /** the CA-signed consortium file, recorded in the store's meta so that `ledger export` carries it */
  consortiumFile?: unknown;
  /** MqttLink in production (deliver incoming messages to `node.deliver`), MemoryNetwork in tests */
  link: Link;
  consensus?: NodeConsensusOptions;
  /** the credit bank this aggregator runs, if any (its id must be `self`) */
  bank?: CreditBankService;
  clock?: () => number;
  crypto?: Ed25519;
  /** the process's signature cache, shared with ingest (one verification per envelope) */
  signatures?: SignatureCache;
  /** how often due system transactions are looked for; 0: the owner calls `tick()` (its DutyClock) */
  tickMs?: number;
  /** a duty designated to another member is taken over once it is this late */
  fallbackMs?: number;
  /** a system transaction not committed after this long is submitted again */
  resubmitMs?: number;
  sweepEveryMs?: number;
  /** after every committed block (not during the replay of the node's own store at start) */
  onCommit?: (out: CommitOutput) => void;
}

/** What the process sends on after a block commits. Only this aggregator's own agents are listed. */
export interface CommitOutput {
  seq: number;
  time: number;
  proposer: string;
  applied: AppliedTx[];
  /** one per party of each match, for the agent's down topic (NaCl-boxed by the caller) */
  fills: { to: string; fill: Fill }[];
  /** fresh account views of the agents the block touched */
  views: AgentView[];
  /** grants of this aggregator's bank that committed: keep `walletSeed` with the loan */
  grants: PreparedGrant[];
}

/** An executed block as the HTTP endpoint's counters see it (aggregator/http/activity.ts). */
export interface ExecutedBlock {
  seq: number;
  round: number;
  index: number;
  view: number;
  /** the proposer's block time */
  time: number;
  proposer: string;
  applied: AppliedTx[];
  /** node clock when the block committed here */
  at: number;
  /** replayed from the node's own store at start, not decided now */
  replayed: boolean;
}

/**
 * One aggregator of the consortium: consensus (ReplicaHost around the configured core), its block
 * store, and the LedgerMachine it executes, plus the duties that need a clock or a secret key
 * (scheduled system transactions, allocations, the bank's grants). A library: the process creates the
 * MQTT link and loads configuration.
 */
export class AggregatorNode {
  readonly self: string;
  readonly host: ReplicaHost;
  /** rate-limited consensus progress lines, checked on every tick */
  readonly consensusWatch: ConsensusWatch;
  readonly machine: LedgerMachine;
  private readonly o: AggregatorNodeOptions;
  private readonly signer: EnvelopeSigner;
  private readonly members: string[];
  private readonly clock: () => number;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private replaying = false;
  private committed = 0;
  /** system transactions sent and not yet seen in the state: id → envelope and when it was sent */
  private readonly pending = new Map<string, { env: Envelope; at: number }>();
  private readonly watchers: ((b: ExecutedBlock) => void)[] = [];
  /** grants prepared by this bank, by loan id, until they commit */
  private readonly grants = new Map<string, PreparedGrant>();

  constructor(o: AggregatorNodeOptions) {
    this.o = o;
    this.self = o.self;
    this.clock = o.clock ?? Date.now;
    const crypto = o.crypto ?? defaultEd25519;
    this.signer = { id: o.self, seed: o.seed, crypto };
    this.members = o.genesis.authorities.map((a) => a.id);
    if (o.bank !== undefined && o.genesis.banks[o.self] === undefined)
      throw new NodeError("GENESIS_INVALID", `${o.self} runs a credit bank that the genesis does not list`);
    const parsed = consensusConfigSchema.safeParse({ consortium: "-", ...o.consensus });
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new NodeError("BAD_CONFIG", `consensus.${i?.path.map(String).join(".")}: ${i?.message}`);
    }
    const consensus = parsed.data;
    this.bindStore(consensus.mode);
    this.machine = LedgerMachine.fromGenesis(o.genesis, {
      crypto,
      journal: true,
      ...(o.signatures === undefined ? {} : { cache: o.signatures }),
    });
    const keys = new Map(o.genesis.authorities.map((a) => [a.id, Buffer.from(a.publicKey, "hex")]));
    const stats = new HostStats(this.members.length);
    const core = createCore(consensus, this.members, o.self, {
      signer: ed25519Signer(o.self, o.seed, crypto),
      // only real checks are counted: a batch signature behind many certificates is checked once
      verifier: cachingVerifier(
        countingVerifier(ed25519Verifier(keys, crypto), () => {
          stats.signatureChecks++;
        }),
      ),
      machine: this.machine,
      validateTx: (tx) => this.machine.validateTx(tx),
    });
    this.host = new ReplicaHost(
      core,
      o.link,
      o.store,
      { commit: (e, _hash, at) => this.onCommit(e, at) },
      this.clock,
      stats,
    );
    const link = o.link;
    this.consensusWatch = new ConsensusWatch(
      {
        self: o.self,
        members: this.members,
        stats,
        height: () => this.committed,
        waiting: () => this.host.waitingSlots(),
        ...(link.connectedPeers === undefined ? {} : { connected: () => link.connectedPeers?.() ?? [] }),
      },
      createLogger("consensus:watch"),
    );
  }

  /** Replays the node's own ledger (no events), then joins consensus and starts the duty timer. */
  start(): void {
    this.replaying = true;
    try {
      this.host.start();
    } finally {
      this.replaying = false;
    }
    this.machine.drainThrough(Number.MAX_SAFE_INTEGER);
    if (this.o.tickMs !== 0) {
      this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000);
      this.timer.unref?.();
    }
    this.tick();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.host.stop();
  }

  /** `fn` sees every executed block, those replayed at start included; register before start(). */
  watch(fn: (b: ExecutedBlock) => void): void {
    this.watchers.push(fn);
  }

  /** Consensus messages from the link. */
  deliver(msg: Message): void {
    this.host.deliver(msg);
  }

  /**
   * Submits a signed envelope (an agent's message relayed by this aggregator, or one of its own).
   * Returns false, without submitting, for one consensus would refuse in a proposal.
   */
  submit(env: Envelope): boolean {
    if (!this.machine.validateTx(env)) {
      log.info("envelope refused before consensus", { from: env.from, type: env.type, seq: env.seq });
      return false;
    }
    this.host.submit(env);
    return true;
  }

  /** A system transaction of this aggregator (ruling, mint, …); the id defaults to `${self}:${seq}`. */
  submitSystem(type: string, body: unknown, id?: string): Envelope {
    const seq = this.nextSeq();
    const tx: Tx = { id: id ?? `${this.self}:${seq}`, type, sender: this.self, body };
    const env = sysEnvelope(tx, seq, this.clock(), this.signer);
    this.host.submit(env);
    return env;
  }

  /**
   * A seller's bill paid with a borrower's token (seed 000 §III): the bank re-signs the token as it will
   * stand after the payment and submits `credit.pay`; every replica checks the bill again. Throws the
   * bank's CreditError for a bill it can already see is void (unknown or inactive loan, overspend).
   */
  submitBill(bill: CreditBill): Envelope {
    if (this.o.bank === undefined)
      throw new NodeError("UNAUTHORIZED", `${this.self} runs no credit bank to pay a bill`);
    const tx = this.o.bank.preparePay(this.machine.credit(), bill);
    return this.submitSystem(
      "credit.pay",
      tx,
      `${this.self}:pay:${bill.payment.loanId}:${bill.payment.paymentId}`,
    );
  }

  /** Presents an agent certificate whose home is this aggregator. */
  registerIdentity(cert: Certificate): Envelope {
    const seq = this.nextSeq();
    const env = registerEnvelope(cert, seq, this.clock(), this.signer);
    this.host.submit(env);
    return env;
  }

  relayRevocations(list: RevocationList): Envelope {
    const seq = this.nextSeq();
    const env = revocationsEnvelope(list, seq, this.clock(), this.signer);
    this.host.submit(env);
    return env;
  }

  /** Number of blocks executed (the next position). */
  get height(): number {
    return this.committed;
  }

  stateHash(): string {
    return this.machine.stateHash();
  }

  /** Sends what is due: scheduled system transactions, allocations, grants, and retries. */
  tick(): void {
    const now = this.clock();
    this.consensusWatch.check(now);
    const state = this.machine.state;
    const wanted = systemDuties(state, this.machine.registry, this.o.genesis, this.machine.credit(), now, {
      members: this.members,
      self: this.self,
      fallbackMs: this.o.fallbackMs ?? 5_000,
      sweepEveryMs: this.o.sweepEveryMs ?? 86_400_000,
    });
    const resubmitMs = this.o.resubmitMs ?? 10_000;
    const ids = new Set<string>();
    for (const tx of wanted) {
      ids.add(tx.id);
      const p = this.pending.get(tx.id);
      if (p !== undefined && now - p.at < resubmitMs) continue;
      const env = p?.env ?? sysEnvelope(tx, this.nextSeq(), now, this.signer);
      this.pending.set(tx.id, { env, at: now });
      this.host.submit(env);
    }
    if (this.o.bank !== undefined) {
      const credit = this.machine.credit();
      for (const loan of Object.values(credit.loans)) {
        if (loan.bank !== this.self || loan.status !== "offered") continue;
        let g = this.grants.get(loan.id);
        if (g === undefined) {
          try {
            g = this.o.bank.prepareGrant(credit, loan.id);
          } catch (e) {
            log.error("cannot prepare a grant", { loan: loan.id, error: (e as Error).message });
            continue;
          }
          this.grants.set(loan.id, g);
        }
        const id = `${this.self}:grant:${loan.id}`;
        ids.add(id);
        const p = this.pending.get(id);
        if (p !== undefined && now - p.at < resubmitMs) continue;
        const env =
          p?.env ??
          sysEnvelope(
            { id, type: "credit.grant", sender: this.self, body: g.tx },
            this.nextSeq(),
            now,
            this.signer,
          );
        this.pending.set(id, { env, at: now });
        this.host.submit(env);
      }
    }
    for (const id of this.pending.keys()) if (!ids.has(id)) this.pending.delete(id);
  }

  private onCommit(entry: LedgerEntry, at: number): void {
    this.committed = entry.seq + 1;
    const applied = this.machine.drainThrough(entry.seq);
    if (this.watchers.length > 0) {
      const h = entry.block.header;
      const b: ExecutedBlock = {
        seq: entry.seq,
        round: h.round,
        index: h.index,
        view: h.view,
        time: h.time,
        proposer: h.proposer,
        applied,
        at,
        replayed: this.replaying,
      };
      for (const w of this.watchers) {
        try {
          w(b);
        } catch (e) {
          log.error("block watcher failed", { seq: entry.seq, error: (e as Error).message });
        }
      }
    }
    if (this.replaying) return;
    const out = this.report(entry, applied);
    if (this.o.onCommit !== undefined) {
      try {
        this.o.onCommit(out);
      } catch (e) {
        log.error("commit callback failed", { seq: entry.seq, error: (e as Error).message });
      }
    }
    // Allocations and grants follow from this block at once rather than at the next tick.
    if (applied.some((a) => a.result.ok && a.txId !== undefined)) this.tick();
  }

  private report(entry: LedgerEntry, applied: AppliedTx[]): CommitOutput {
    const registry = this.machine.registry;
    const own = (agent: string) => registry.agent(agent)?.home === this.self;
    const events: LedgerEvent[] = [];
    const touched = new Set<string>();
    for (const a of applied) {
      if (own(a.from)) touched.add(a.from);
      if (!a.result.ok) continue;
      for (const e of a.result.events) {
        events.push(e);
        for (const agent of agentsOfEvent(e, this.machine.subjects)) if (own(agent)) touched.add(agent);
      }
    }
    const views: AgentView[] = [];
    for (const agent of [...touched].sort()) {
      const v = agentView(this.machine.state, agent);
      if (v !== null) views.push(v);
    }
    const grants: PreparedGrant[] = [];
    const credit = this.machine.credit();
    for (const [loanId, g] of this.grants) {
      const loan = credit.loans[loanId];
      if (loan?.status === "offered") continue;
      this.grants.delete(loanId);
      if (loan?.sharedWallet === g.tx.sharedWallet) grants.push(g);
    }
    const h = entry.block.header;
    return {
      seq: entry.seq,
      time: h.time,
      proposer: h.proposer,
      applied,
      fills: fillsFromEvents(events).filter((f) => own(f.to)),
      views,
      grants,
    };
  }

  private bindStore(mode: "pbft" | "pow"): void {
    const store = this.o.store;
    const recorded = store.getMeta<string>("genesis");
    if (recorded !== undefined && recorded !== this.o.genesis.hash)
      throw new NodeError("STORE_MISMATCH", "this block store was written under another genesis");
    initLedgerMeta(store, {
      members: this.o.genesis.authorities.map((a) => ({ id: a.id, publicKey: a.publicKey })),
      machine: LEDGER_MACHINE_NAME,
      mode,
    });
    store.setMeta("genesis", this.o.genesis.hash);
    // the signed documents an auditor anchors to the CA (`gridlet ledger verify --ca`)
    store.setMeta("genesisFile", this.o.genesis.signed);
    if (this.o.consortiumFile !== undefined) store.setMeta("consortiumFile", this.o.consortiumFile);
  }

  /** Envelope sequence numbers follow the clock, so they keep rising across restarts. */
  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, this.clock());
    return this.seq;
  }
}
