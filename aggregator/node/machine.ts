import { canonicalJson } from "../../protocol/canonical.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { decodeEnvelope, type Envelope } from "../../protocol/envelope.js";
import { sha256Hex } from "../../protocol/hash.js";
import { createLogger } from "../../protocol/log.js";
import type { CreditErrorCode } from "../credit/errors.js";
import { CREDIT_MODULE, creditModule } from "../credit/module.js";
import type { CreditState } from "../credit/state.js";
import type { TradingCore } from "../state/core.js";
import type { EventSubjects, LedgerEvent, RegistryEvent } from "../state/events.js";
import type { Tx } from "../state/handler.js";
import { incomeSince } from "../state/income.js";
import { MSG_CA_REVOCATIONS, MSG_IDENTITY_REGISTER } from "../state/messages.js";
import type { ApplyContext, ReplicatedStateMachine } from "../state/replicated.js";
import type { StateSnapshot } from "../state/snapshot.js";
import { createTradingCore, restoreTradingCore } from "../state/trading.js";
import type { TradingEvent, TradingState } from "../state/types.js";
import { AUTHORITY_MESSAGES, agentTx } from "./envelopes.js";
import { isNodeError, type LedgerRefusalCode, NodeError } from "./errors.js";
import type { LedgerGenesis } from "./genesis.js";
import { IdentityRegistry, type RegistrySnapshot } from "./registry.js";
import { SignatureCache } from "./sig-cache.js";

const log = createLogger("aggregator:ledger");

/** What applying one envelope gave: every event it produced, or why it was refused. */
export type LedgerApplyResult =
  | { ok: true; events: LedgerEvent[] }
  | { ok: false; code: LedgerRefusalCode; message: string };

/** One applied envelope, as the node reports it after a commit. */
export interface AppliedTx {
  height: number;
  time: number;
  type: string;
  from: string;
  /** the trading transaction id, when the envelope became one */
  txId?: string;
  result: LedgerApplyResult;
}

export interface LedgerSnapshot {
  v: 1;
  genesis: string;
  registry: RegistrySnapshot;
  trading: StateSnapshot;
  /** ids of agent transactions the trading core refused, in the order they were refused */
  refused?: string[];
}

export interface LedgerMachineOptions {
  crypto?: Ed25519;
  /** shared with consensus' validateTx so that each envelope is verified once */
  cache?: SignatureCache;
  /**
   * Keep a journal of applied envelopes for `drainThrough` (the node's events). Off by default, so that
   * an auditor re-executing a long ledger does not accumulate it.
   */
  journal?: boolean;
}

/**
 * The aggregators' replicated ledger: every transaction is a signed envelope, re-verified by every
 * replica and every auditor. Identities (registry) gate who may sign; the trading core with the credit
 * bank plugged in does the rest. Deterministic: block time is the only clock, and no refusal throws.
 */
export class LedgerMachine implements ReplicatedStateMachine {
  readonly genesis: LedgerGenesis;
  readonly registry: IdentityRegistry;
  readonly cache: SignatureCache;
  core: TradingCore<CreditErrorCode>;
  /**
   * Agent transactions already refused. The trading core remembers only accepted ids, so without this a
   * second copy of a refused envelope (resubmitted by the aggregator an agent failed over to) would be
   * judged again and could succeed later: each agent envelope gets exactly one decision.
   */
  private readonly refused = new Set<string>();
  /** applied since the last drain, in order: the node turns them into events after each commit */
  private journal: AppliedTx[] = [];
  private readonly keepJournal: boolean;

  private constructor(genesis: LedgerGenesis, core: TradingCore<CreditErrorCode>, o: LedgerMachineOptions) {
    this.genesis = genesis;
    this.core = core;
    const crypto = o.crypto ?? defaultEd25519;
    this.registry = new IdentityRegistry(genesis.ca, genesis.authorities, crypto);
    this.cache = o.cache ?? new SignatureCache(crypto);
    this.keepJournal = o.journal ?? false;
  }

  static fromGenesis(genesis: LedgerGenesis, o: LedgerMachineOptions = {}): LedgerMachine {
    const core = createTradingCore(
      { config: genesis.trading, authorities: genesis.authorities.map((a) => a.id) },
      [tradingModules(genesis)],
    );
    const m = new LedgerMachine(genesis, core, o);
    m.openBanks();
    return m;
  }

  static restore(genesis: LedgerGenesis, snap: LedgerSnapshot, o: LedgerMachineOptions = {}): LedgerMachine {
    if (snap.genesis !== genesis.hash)
      throw new NodeError("STORE_MISMATCH", "the snapshot was taken under another genesis");
    const m = new LedgerMachine(genesis, restoreTradingCore(snap.trading, [tradingModules(genesis)]), o);
    m.registry.restore(snap.registry);
    for (const id of snap.refused ?? []) m.refused.add(id);
    return m;
  }

  get state(): TradingState {
    return this.core.state;
  }

  credit(): CreditState {
    return this.core.state.ext.get(CREDIT_MODULE) as CreditState;
  }

  /** Wallet owners and loan borrowers as the state stands now, for `agentsOfEvent`. */
  readonly subjects: EventSubjects = {
    walletOwner: (address) => this.core.state.wallets.get(address)?.owner,
    loanBorrower: (loanId) => this.credit().loans[loanId]?.borrower,
  };

  apply(tx: unknown, ctx: ApplyContext): LedgerApplyResult {
    let env: Envelope | undefined;
    let txId: string | undefined;
    let result: LedgerApplyResult;
    try {
      if (isPowReward(tx)) {
        const r = this.powReward(tx, ctx);
        this.record(ctx, "pow.reward", ctx.proposer, r.txId, r.result);
        return r.result;
      }
      env = decode(tx);
      const inner = this.admit(env, ctx.time);
      if (inner === null) result = { ok: true, events: this.registryEvents(env) };
      else {
        txId = inner.id;
        const agent = !AUTHORITY_MESSAGES.has(env.type);
        if (agent && this.refused.has(inner.id)) {
          result = { ok: false, code: "REPLAY", message: `${inner.id} was already refused` };
        } else {
          result = this.core.apply(inner, ctx);
          if (agent && !result.ok && result.code !== "REPLAY") this.refused.add(inner.id);
        }
      }
    } catch (e) {
      result = refusal(e);
    }
    this.record(ctx, env?.type ?? "?", env?.from ?? "?", txId, result);
    return result;
  }

  private record(
    ctx: ApplyContext,
    type: string,
    from: string,
    txId: string | undefined,
    result: LedgerApplyResult,
  ) {
    if (!this.keepJournal) return;
    this.journal.push({
      height: ctx.height,
      time: ctx.time,
      type,
      from,
      ...(txId === undefined ? {} : { txId }),
      result,
    });
  }

  /**
   * Seed 000's proof-of-work mode puts the leader's reward first in its block, unsigned: the block's
   * signature and every member's audit vouch for it, so it is honoured only as the proposer's own reward
   * at its own height. It is minted to the proposer's reward wallet, opened on first use.
   */
  private powReward(tx: PowReward, ctx: ApplyContext): { txId: string; result: LedgerApplyResult } {
    const txId = `sys:pow-reward:${ctx.height}`;
    if (
      tx.to !== ctx.proposer ||
      tx.id !== `reward/${ctx.height}` ||
      !Number.isSafeInteger(tx.amount) ||
      tx.amount < 1
    )
      return {
        txId,
        result: { ok: false, code: "UNAUTHORIZED", message: "a reward that is not the proposer's own" },
      };
    const wallet = `reward-${ctx.proposer}`;
    const events: TradingEvent[] = [];
    if (!this.core.state.wallets.has(wallet)) {
      const r = this.core.apply(
        {
          id: `sys:reward-wallet:${ctx.proposer}`,
          type: "register-wallet",
          sender: ctx.proposer,
          body: { wallet },
        },
        ctx,
      );
      if (!r.ok) return { txId, result: r };
      events.push(...r.events);
    }
    const r = this.core.apply(
      {
        id: txId,
        type: "mint",
        sender: ctx.proposer,
        body: { wallet, amountMc: tx.amount, reason: "proof-of-work leader" },
      },
      ctx,
    );
    return { txId, result: r.ok ? { ok: true, events: [...events, ...r.events] } : r };
  }

  /**
   * What consensus asks of every transaction in a proposal before voting for it: a well-formed envelope
   * of a type the ledger carries, signed by its sender. Only checks that cannot change their answer
   * later are final: an agent this replica does not know yet may be registered by an earlier block it
   * has not executed, so it passes here and is judged (UNKNOWN_SENDER) at execution.
   */
  validateTx(tx: unknown): boolean {
    let env: Envelope;
    try {
      env = decode(tx);
    } catch {
      return false;
    }
    if (AUTHORITY_MESSAGES.has(env.type)) {
      const key = this.registry.authorityKey(env.from);
      return key !== undefined && this.cache.verify(env, key);
    }
    if (agentTx(env) === null) return false;
    const agent = this.registry.agent(env.from);
    return agent === undefined || this.cache.verify(env, agent.publicKey);
  }

  /**
   * Applied envelopes up to block `height`, in order. Consensus may execute several blocks in one step
   * before the host reports their commits one by one, so each commit takes only its own part.
   */
  drainThrough(height: number): AppliedTx[] {
    let n = 0;
    while (n < this.journal.length && this.journal[n].height <= height) n++;
    return this.journal.splice(0, n);
  }

  stateHash(): string {
    return sha256Hex(
      canonicalJson({
        v: 1,
        genesis: this.genesis.hash,
        registry: this.registry.snapshot(),
        trading: this.core.stateHash(),
        refused: [...this.refused],
      }),
    );
  }

  snapshot(): LedgerSnapshot {
    return {
      v: 1,
      genesis: this.genesis.hash,
      registry: this.registry.snapshot(),
      trading: this.core.snapshot(),
      refused: [...this.refused],
    };
  }

  /**
   * Sender, signature, then what the envelope means. Returns the trading transaction to apply, or null
   * when the envelope changed the registry itself.
   */
  private admit(env: Envelope, time: number): Tx | null {
    if (AUTHORITY_MESSAGES.has(env.type)) {
      const key = this.registry.authorityKey(env.from);
      if (key === undefined)
        throw new NodeError("UNAUTHORIZED", `${env.type} from "${env.from}", who is not an aggregator`);
      this.requireSignature(env, key);
      switch (env.type) {
        case MSG_IDENTITY_REGISTER:
          this.registry.register(this.registry.checkRegistration(env.body, env.from, time));
          return null;
        case MSG_CA_REVOCATIONS:
          this.registry.setRevocations(this.registry.checkRevocations(env.body));
          return null;
        default:
          return sysTx(env);
      }
    }
    const key = this.registry.agentKey(env.from, time);
    this.requireSignature(env, key);
    const tx = agentTx(env);
    if (tx === null)
      throw new NodeError("UNKNOWN_MESSAGE_TYPE", `the ledger does not carry "${env.type}" messages`);
    const wallet =
      tx.type === "register-wallet" ? (tx.body as { wallet?: unknown } | null)?.wallet : undefined;
    // a body without a wallet string is left to the handler's schema (MALFORMED)
    if (typeof wallet === "string") this.registry.requireCertifiedWallet(env.from, wallet);
    return tx;
  }

  private requireSignature(env: Envelope, key: string): void {
    if (!this.cache.verify(env, key))
      throw new NodeError("BAD_SIGNATURE", `bad signature on ${env.type} from "${env.from}"`, {
        from: env.from,
        seq: env.seq,
      });
  }

  private registryEvents(env: Envelope): RegistryEvent[] {
    if (env.type === MSG_IDENTITY_REGISTER) {
      const id = (env.body as { id: string }).id;
      return [{ type: "identity-registered", agent: id, home: env.from }];
    }
    return [{ type: "revocations-installed", version: (env.body as { version: number }).version }];
  }

  /** The banks' wallets exist and hold their funds before the first block, on every replica alike. */
  private openBanks(): void {
    const ctx = { time: this.genesis.issued, height: 0, proposer: "" };
    for (const bank of Object.keys(this.genesis.banks).sort()) {
      const b = this.genesis.banks[bank];
      const steps: Tx[] = [
        { id: `genesis:wallet:${bank}`, type: "register-wallet", sender: bank, body: { wallet: b.wallet } },
      ];
      if (b.fundsMc > 0)
        steps.push({
          id: `genesis:funds:${bank}`,
          type: "mint",
          sender: bank,
          body: { wallet: b.wallet, amountMc: b.fundsMc, reason: "genesis: credit bank funds" },
        });
      for (const step of steps) {
        const r = this.core.apply(step, { ...ctx, proposer: bank });
        if (!r.ok) throw new NodeError("GENESIS_INVALID", `genesis.banks.${bank}: ${r.code} ${r.message}`);
      }
    }
  }
}

function tradingModules(genesis: LedgerGenesis) {
  const banks = Object.fromEntries(
    Object.entries(genesis.banks).map(([id, b]) => [id, { publicKey: b.publicKey, wallet: b.wallet }]),
  );
  return creditModule({ config: genesis.credit, banks, incomeSince });
}

interface PowReward {
  kind: "reward";
  id: string;
  to: string;
  amount: number;
}

function isPowReward(tx: unknown): tx is PowReward {
  const r = tx as Partial<PowReward> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    r.kind === "reward" &&
    typeof r.id === "string" &&
    typeof r.to === "string" &&
    typeof r.amount === "number"
  );
}

/** Each block transaction decoded once: the check at proposal and the execution share the result. */
const decoded = new WeakMap<object, Envelope | NodeError>();

function decode(tx: unknown): Envelope {
  if (typeof tx !== "object" || tx === null)
    throw new NodeError("MALFORMED", "a ledger transaction must be a signed envelope");
  let env = decoded.get(tx);
  if (env === undefined) {
    // The block's own object is frozen too: what was decoded (and judged) is what the block holds.
    deepFreeze(tx);
    try {
      // a fresh, frozen copy: the block's objects may be shared with the consensus core, and a frozen
      // envelope lets the signature cache remember its verdict by object (sig-cache.ts)
      env = deepFreeze(decodeEnvelope(JSON.stringify(tx)));
    } catch (e) {
      env = new NodeError("MALFORMED", (e as Error).message);
    }
    decoded.set(tx, env);
  }
  if (env instanceof NodeError) throw env;
  return env;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** The Tx inside a system envelope: its sender is the signer, and its id cannot take an agent's. */
function sysTx(env: Envelope): Tx {
  const t = env.body as Partial<Tx> | null;
  if (typeof t !== "object" || t === null || typeof t.id !== "string" || typeof t.type !== "string")
    throw new NodeError("MALFORMED", "sys: body must be a transaction {id, type, sender, body}");
  if (t.sender !== env.from)
    throw new NodeError("UNAUTHORIZED", `sys: transaction sender "${t.sender}" is not the signer`);
  if (!t.id.startsWith("sys:") && !t.id.startsWith(`${env.from}:`))
    throw new NodeError(
      "MALFORMED",
      `sys: transaction id "${t.id}" must start with "sys:" or "${env.from}:"`,
    );
  return { id: t.id, type: t.type, sender: env.from, body: t.body };
}

function refusal(e: unknown): LedgerApplyResult {
  if (isNodeError(e)) return { ok: false, code: e.code, message: e.message };
  // A handler bug: refusing keeps every replica in step (they all hit it), and the log says so loudly.
  log.error("transaction failed inside a handler", { error: (e as Error)?.message ?? String(e) });
  return { ok: false, code: "INTERNAL", message: (e as Error)?.message ?? String(e) };
}
