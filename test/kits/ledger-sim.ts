import type { NetworkFaults } from "../../aggregator/consensus/sim/simulator.js";
import { Simulation } from "../../aggregator/consensus/sim/simulator.js";
import { CreditBankService, type PreparedGrant } from "../../aggregator/credit/service.js";
import type { LedgerEntry } from "../../aggregator/ledger/block.js";
import { systemDuties } from "../../aggregator/node/duties.js";
import { type EnvelopeSigner, registerEnvelope, sysEnvelope } from "../../aggregator/node/envelopes.js";
import { LedgerMachine } from "../../aggregator/node/machine.js";
import type { TradingState } from "../../aggregator/state/types.js";
import { seededRandom } from "../../bench/harness/credit-world.js";
import { makeConsortium, TestAgent, type TestConsortium } from "../../bench/harness/node-consortium.js";
import type { Envelope } from "../../protocol/envelope.js";
import type { CreditBill } from "../../protocol/messages/credit.js";

/** Simulated time starts here (ms since epoch), on an interval boundary of every test interval. */
export const SIM_T0 = 1_800_000_000_000;

export interface LedgerSimOptions {
  seed: number;
  /** where the CA directory and the genesis file go */
  dir: string;
  n?: number;
  net?: Partial<NetworkFaults>;
  trading?: Record<string, unknown>;
  credit?: Record<string, unknown>;
  /** how often each aggregator looks for due system transactions and pending envelopes (simulated ms) */
  tickMs?: number;
  /** a system transaction or relayed envelope not decided after this long is submitted again */
  resubmitMs?: number;
  /** a duty designated to another member is taken over once it is this late */
  fallbackMs?: number;
}

/** One decision of the ledger on a transaction, as an auditor re-executing the blocks sees it. */
export interface Verdict {
  height: number;
  tx: { type?: string; from?: string; seq?: number; body?: unknown };
  ok: boolean;
  code?: string;
}

/**
 * What one aggregator process keeps besides its consensus replica. `outbox` and `bills` are on disk in
 * the real service (they survive a crash); the rest is process memory, lost on a crash.
 */
interface Member {
  readonly id: string;
  readonly signer: EnvelopeSigner;
  seq: number;
  /** system transactions sent and not yet in the state: id → envelope and when it was sent */
  pending: Map<string, { env: Envelope; at: number }>;
  grants: Map<string, PreparedGrant>;
  /** identity registrations sent for this aggregator's agents: id → when */
  registering: Map<string, number>;
  /** agent envelopes this aggregator receipted, until the ledger decided them: key → when last sent */
  outbox: Map<string, { env: Envelope; at: number }>;
  /** credit bills this bank was asked to pay (the bank only) */
  bills: Map<string, { bill: CreditBill; at: number }>;
  /** agents whose home this is and who logged in: the home registers them in the ledger */
  agents: Set<string>;
  /** decided (from:seq) of agent envelopes, from the committed blocks scanned so far */
  decided: Set<string>;
  scanned: { store: readonly LedgerEntry[] | undefined; n: number };
}

/**
 * The aggregators' ledger on the deterministic simulator: n consensus replicas executing the real
 * LedgerMachine over a seeded network (loss, duplication, delay, partitions, crashes and restarts), and
 * around each replica what an aggregator process adds: the scheduled system transactions
 * (`systemDuties`, as AggregatorNode.tick), the credit bank's grants and payments, its agents'
 * identity registrations, and the outbox of receipted agent envelopes it submits until they are
 * decided. Time is simulated: a scenario of many market intervals runs in milliseconds.
 */
export class LedgerSim {
  readonly sim: Simulation<LedgerMachine>;
  readonly c: TestConsortium;
  readonly seed: number;
  private readonly members = new Map<string, Member>();
  private readonly bank: CreditBankService;
  private readonly o: Required<Omit<LedgerSimOptions, "net" | "trading" | "credit">>;

  constructor(o: LedgerSimOptions) {
    this.seed = o.seed;
    this.o = { n: 4, tickMs: 100, resubmitMs: 1000, fallbackMs: 1000, ...o };
    this.c = makeConsortium(o.dir, {
      n: this.o.n,
      now: () => SIM_T0,
      trading: o.trading,
      credit: o.credit,
      label: `ledger-sim/${o.seed}`,
    });
    const genesis = this.c.genesis;
    this.sim = new Simulation<LedgerMachine>({
      seed: o.seed,
      n: this.o.n,
      signatures: "sim",
      net: { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 10, ...o.net },
      config: { slotTimeoutMs: 200, checkpointInterval: 4 },
      startTime: SIM_T0,
      machine: () => {
        const machine = LedgerMachine.fromGenesis(genesis);
        return { machine, validateTx: (tx) => machine.validateTx(tx) };
      },
    });
    this.bank = new CreditBankService(this.c.bankKeys, seededRandom(`ledger-sim-bank/${o.seed}`));
    for (const m of this.c.members) {
      this.members.set(m.id, this.freshMember(m.id, m.seed));
      this.scheduleTick(m.id, SIM_T0 + 1 + this.sim.rng.int(0, this.o.tickMs));
    }
  }

  get now(): number {
    return this.sim.now;
  }

  get ids(): string[] {
    return this.sim.members;
  }

  /** An agent with a CA-issued certificate; `login` makes its home register it in the ledger. */
  agent(id: string, home: string): TestAgent {
    const a = new TestAgent(this.c, id, home, this.o.dir);
    this.agents.set(id, a);
    return a;
  }
  private readonly agents = new Map<string, TestAgent>();

  /** The agent connects to its home: the home presents its certificate to the ledger. */
  login(agent: TestAgent): void {
    this.member(agent.cert.home!).agents.add(agent.id);
  }

  /**
   * The agent signs an envelope and sends it to `via` (its home unless it failed over), which receipts
   * it into its outbox and submits it. An envelope sent to a dead aggregator is lost, as an unreceipted
   * publish is: the agent sends it again elsewhere with `resend`.
   */
  send(agent: TestAgent, type: string, body: unknown, via = agent.cert.home!): Envelope {
    return this.deliver(agent.sign(type, body, this.now), via);
  }

  order(agent: TestAgent, side: "buy" | "sell", interval: number, wh: number, price: number, via?: string) {
    return this.deliver(agent.order(side, interval, wh, price, this.now), via ?? agent.cert.home!);
  }

  /** An envelope (again) to an aggregator, as an agent that failed over resends what was not receipted. */
  deliver(env: Envelope, via: string): Envelope {
    if (!this.sim.replica(via).alive) return env;
    this.member(via).outbox.set(`${env.from}:${env.seq}`, { env, at: 0 });
    this.pump(via);
    return env;
  }

  /** A seller's bill, which any aggregator forwards to the bank (eag0) that pays it from the loan. */
  bill(bill: CreditBill): void {
    this.member(this.c.bankKeys.id).bills.set(`${bill.payment.loanId}:${bill.payment.paymentId}`, {
      bill,
      at: 0,
    });
  }

  /** The grant the bank prepared for a loan: its sealed key delivery and the shared wallet's seed. */
  grant(loanId: string): PreparedGrant | undefined {
    return this.member(this.c.bankKeys.id).grants.get(loanId) ?? this.granted.get(loanId);
  }
  private readonly granted = new Map<string, PreparedGrant>();

  /** A loan's token as the bank last signed it, which the borrower holds. */
  token(loanId: string) {
    return this.bank.currentToken(this.machine(this.c.bankKeys.id).credit(), loanId);
  }

  /** kill -9: the replica and the process memory go; the block store and the outbox stay on disk. */
  crash(id: string): void {
    this.sim.crash(id);
    const m = this.member(id);
    this.members.set(id, { ...this.freshMember(id, m.signer.seed), outbox: m.outbox, bills: m.bills });
  }

  /** Restart from the files ("persisted") or from nothing but the genesis ("empty": catches up from peers). */
  restart(id: string, mode: "persisted" | "empty" = "persisted"): void {
    this.sim.restart(id, mode);
    this.scheduleTick(id, this.now + 1);
  }

  partition(groups: string[][] | null): void {
    this.sim.setPartition(groups);
  }

  /** Runs simulated time forward by `ms`. */
  run(ms: number): void {
    this.sim.run(this.now + ms);
  }

  /** Runs simulated time until `cond` holds; fails, naming the seed, after `maxMs`. */
  until(what: string, cond: () => boolean, maxMs = 30_000): void {
    const end = this.now + maxMs;
    while (!cond()) {
      if (this.now >= end) throw new Error(`seed ${this.seed}: ${what} not reached in ${maxMs} simulated ms`);
      this.run(10);
    }
  }

  /** Runs until simulated time `t` (ms since epoch). */
  runTo(t: number): void {
    if (t > this.now) this.sim.run(t);
  }

  alive(id: string): boolean {
    return this.sim.replica(id).alive;
  }

  machine(id: string): LedgerMachine {
    return this.sim.replica(id).machine;
  }

  state(id: string): TradingState {
    return this.machine(id).state;
  }

  height(id: string): number {
    return this.sim.replica(id).store.length;
  }

  liveMembers(): string[] {
    return this.ids.filter((id) => this.alive(id));
  }

  /** Envelopes an aggregator holds receipted and undecided (its outbox). */
  outboxSize(id: string): number {
    return this.member(id).outbox.size;
  }

  /**
   * An auditor's re-execution of a replica's blocks from the genesis: each transaction's verdict, and
   * the state hash after `height` blocks (all of them unless given).
   */
  reexecute(id: string, height?: number): { stateHash: string; verdicts: Verdict[] } {
    const machine = LedgerMachine.fromGenesis(this.c.genesis);
    const verdicts: Verdict[] = [];
    const store = this.sim.replica(id).store.slice(0, height);
    for (const e of store) {
      const h = e.block.header;
      for (const tx of e.block.txs) {
        const r = machine.apply(tx, { time: h.time, height: e.seq, proposer: h.proposer });
        verdicts.push({
          height: e.seq,
          tx: tx as Verdict["tx"],
          ok: r.ok,
          ...(r.ok ? {} : { code: r.code }),
        });
      }
    }
    return { stateHash: machine.stateHash(), verdicts };
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no aggregator ${id}`);
    return m;
  }

  private freshMember(id: string, seed: Uint8Array): Member {
    return {
      id,
      signer: { id, seed },
      seq: 0,
      pending: new Map(),
      grants: new Map(),
      registering: new Map(),
      outbox: new Map(),
      bills: new Map(),
      agents: this.members.get(id)?.agents ?? new Set(),
      decided: new Set(),
      scanned: { store: undefined, n: 0 },
    };
  }

  private scheduleTick(id: string, at: number): void {
    const epoch = this.members.get(id);
    this.sim.at(at, () => {
      // a crash replaced the member: this tick belonged to the dead process
      if (this.members.get(id) !== epoch || !this.alive(id)) return;
      this.tick(id);
      this.scheduleTick(id, this.now + this.o.tickMs);
    });
  }

  /** Envelope sequence numbers follow the clock, so they keep rising across restarts (as the node's). */
  private nextSeq(m: Member): number {
    m.seq = Math.max(m.seq + 1, this.now);
    return m.seq;
  }

  /** One turn of an aggregator's duties: what AggregatorNode.tick and the service's outbox pump do. */
  private tick(id: string): void {
    const m = this.member(id);
    const machine = this.machine(id);
    const now = this.now;
    const submit = (env: Envelope) => this.sim.submit(id, env);
    const wanted = systemDuties(machine.state, machine.registry, this.c.genesis, machine.credit(), now, {
      members: this.ids,
      self: id,
      fallbackMs: this.o.fallbackMs,
      sweepEveryMs: 86_400_000,
    });
    const ids = new Set<string>();
    const due = (key: string) => {
      ids.add(key);
      const p = m.pending.get(key);
      return p === undefined || now - p.at >= this.o.resubmitMs ? p : null;
    };
    for (const tx of wanted) {
      const p = due(tx.id);
      if (p === null) continue;
      const env = p?.env ?? sysEnvelope(tx, this.nextSeq(m), now, m.signer);
      m.pending.set(tx.id, { env, at: now });
      submit(env);
    }
    if (id === this.c.bankKeys.id) {
      const credit = machine.credit();
      for (const loan of Object.values(credit.loans)) {
        if (loan.bank !== id || loan.status !== "offered") continue;
        let g = m.grants.get(loan.id);
        if (g === undefined) {
          g = this.bank.prepareGrant(credit, loan.id);
          m.grants.set(loan.id, g);
          this.granted.set(loan.id, g);
        }
        const key = `${id}:grant:${loan.id}`;
        const p = due(key);
        if (p === null) continue;
        const env =
          p?.env ??
          sysEnvelope(
            { id: key, type: "credit.grant", sender: id, body: g.tx },
            this.nextSeq(m),
            now,
            m.signer,
          );
        m.pending.set(key, { env, at: now });
        submit(env);
      }
      for (const [key, b] of m.bills) {
        const loan = credit.loans[b.bill.payment.loanId];
        if (loan?.payments.some((p) => p.paymentId === b.bill.payment.paymentId)) {
          m.bills.delete(key);
          continue;
        }
        if (now - b.at < this.o.resubmitMs) continue;
        b.at = now;
        const tx = this.bank.preparePay(credit, b.bill);
        const payId = `${id}:pay:${b.bill.payment.loanId}:${b.bill.payment.paymentId}`;
        submit(
          sysEnvelope(
            { id: payId, type: "credit.pay", sender: id, body: tx },
            this.nextSeq(m),
            now,
            m.signer,
          ),
        );
      }
    }
    for (const key of m.pending.keys()) if (!ids.has(key)) m.pending.delete(key);
    for (const agent of m.agents) {
      if (machine.registry.agent(agent) !== undefined) continue;
      const last = m.registering.get(agent);
      if (last !== undefined && now - last < this.o.resubmitMs) continue;
      m.registering.set(agent, now);
      const cert = this.agents.get(agent)!.cert;
      submit(registerEnvelope(cert, this.nextSeq(m), now, m.signer));
    }
    this.pump(id);
  }

  /** Submits the outbox's envelopes that are due; drops the ones the ledger decided. */
  private pump(id: string): void {
    const m = this.member(id);
    const machine = this.machine(id);
    this.scanDecided(m);
    for (const [key, row] of m.outbox) {
      if (m.decided.has(key)) {
        m.outbox.delete(key);
        continue;
      }
      if (this.now - row.at < this.o.resubmitMs) continue;
      // as the service: an agent's envelope waits until the ledger knows the agent
      if (machine.registry.agent(row.env.from) === undefined) continue;
      row.at = this.now;
      this.sim.submit(id, row.env);
    }
  }

  private scanDecided(m: Member): void {
    const store = this.sim.replica(m.id).store;
    if (m.scanned.store !== store) m.scanned = { store, n: 0 };
    for (; m.scanned.n < store.length; m.scanned.n++)
      for (const tx of store[m.scanned.n].block.txs) {
        const t = tx as { from?: string; seq?: number };
        m.decided.add(`${t.from}:${t.seq}`);
      }
  }
}
