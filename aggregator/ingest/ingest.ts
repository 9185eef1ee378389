import type Database from "better-sqlite3";
import { describeBodyError } from "../../protocol/body-error.js";
import { BurstLog } from "../../protocol/burst-log.js";
import { equalBytes, toHex } from "../../protocol/bytes.js";
import type { SenderDirectory } from "../../protocol/envelope.js";
import {
  decodeEnvelope,
  type Envelope,
  EnvelopeVerifier,
  envelopeSignatureHolds,
  envelopeSigningBytes,
  type SequenceStore,
  scanEnvelopeSeq,
} from "../../protocol/envelope.js";
import { describeError, isGridletError, isProtocolError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";
import { parseAgentTopic } from "../../protocol/topics.js";
import type { ReceiptBatcher } from "./receipts.js";
import type { Accepted, AggregatorStore, Refusal } from "./store.js";
import type { SignatureJob, VerifyPool } from "./verify-pool.js";

/**
 * What ingest does with one envelope type. Later parts of the aggregator (orders, deposits, credit)
 * register theirs with `Ingest.registerHandler`; ingest itself only verifies, de-duplicates, commits
 * and receipts.
 */
export interface MessageHandler<T = unknown> {
  /** how old an envelope of this type may be (readings: days, buffered through outages) */
  maxAgeMs?: number;
  /** validates the body; throwing rejects the envelope for good (BAD_BODY) */
  parse(body: unknown): T;
  /**
   * Called once the body parsed, before the envelope is queued for commit: a refusal (a quota, say) is
   * final, counted and receipted as rejected with its code, so its sender stops resending it.
   */
  admit?(env: Envelope): { code: string; reason: string } | undefined;
  /** writes the message inside ingest's transaction */
  store(db: Database.Database, env: Envelope, body: T, raw: string): void;
  /**
   * Checks the message against what is stored, inside ingest's transaction and before `store`; a
   * refusal is final (the agent is told to drop the envelope), e.g. a meter register running backwards.
   */
  refuse?(db: Database.Database, env: Envelope, body: T): Refusal | undefined;
  /**
   * The ledger checks this type's signature again (at proposal and execution): a verdict of the verify
   * threads is handed to `rememberSignature` so that check is a lookup. Readings are never re-checked.
   */
  reverified?: boolean;
  /** The commit holding this handler's writes rolled back: what it remembers of them must go. */
  rolledBack?(): void;
}

/** Replays are caught by (sender, seq) uniqueness in the store, not by a running maximum: see AGGREGATOR.md. */
const storeChecksReplays: SequenceStore = { last: () => undefined, advance: () => undefined };

const DEFAULT_MAX_AGE_MS = 5 * 60_000;

export interface IngestOptions {
  store: AggregatorStore;
  directory: SenderDirectory;
  /** asked once when a sender is unknown: may load its certificate (returns true if it did) */
  refreshSender?: (id: string) => boolean;
  receipts: ReceiptBatcher;
  now: () => number;
  maxFutureMs: number;
  log: Logger;
  /**
   * The signature check to use (the ledger's signature cache, aggregator/node/sig-cache.ts): an
   * envelope verified here is a cache hit when the ledger checks it again. Default: ed25519 verify.
   */
  checkSignature?: (env: Envelope, publicKeyHex: string) => boolean;
  /**
   * Verify threads: signatures are checked beside the event loop, in batches, and the envelopes go on
   * in the order they arrived. Absent (or once a thread has died): checked inline by `checkSignature`.
   */
  pool?: VerifyPool;
  /** told every verdict the pool returns, so that the signature cache knows it too */
  rememberSignature?: (env: Envelope, publicKeyHex: string, bytes: Uint8Array, ok: boolean) => void;
  /**
   * Group commit under load: while the last commit held 64 envelopes or more, the next starts no
   * sooner than this after it (at light load each goes at the end of its turn). Default
   * COMMIT_SPACING_MS.
   */
  commitSpacingMs?: number;
  /** a monotonic clock in milliseconds for that spacing (default performance.now) */
  monotonicMs?: () => number;
}

/** An envelope waiting for its verdict from the verify threads. */
interface Verifying {
  topic: string;
  payload: Buffer;
  env: Envelope;
  job: SignatureJob;
}

/** Envelopes sent to the verify threads in one batch at most (a broker delivers a few hundred a turn). */
const MAX_VERIFY_BATCH = 512;
/**
 * Fewer envelopes than this in a turn are verified on the event loop: a round trip to a thread costs
 * about as much as a few verifications, and at light load (a few readings a second) the threads never
 * start (they cost memory: about 8 MB each).
 */
export const MIN_THREAD_BATCH = 8;

/**
 * Commits start at most this often under load, that is while the last commit held GROUP_COMMIT_FROM
 * envelopes or more (at light load each goes at once). A commit writes every page it touched to the
 * WAL, the rows and a leaf of each index for each sender in it: a commit of 500 readings from 20 agents
 * costs 29 µs an envelope, one of 125 costs 44 µs (measured on a 2-core machine). Receipts are batched
 * for 20 ms anyway (ReceiptBatcher), so under load a sender waits at most this much longer.
 */
export const COMMIT_SPACING_MS = 100;
const GROUP_COMMIT_FROM = 64;
/** A pending batch this long is committed at once, whatever the spacing (bounds the memory it holds). */
const MAX_PENDING = 4096;

/**
 * Verifies every envelope arriving on `gridlet/v1/agent/<id>/up`, in this order: shape, sender matches
 * the topic, signature, freshness for its type, duplicate. Accepted ones are committed in batches (one
 * transaction per turn of the event loop; under load one at most every COMMIT_SPACING_MS), then
 * receipted. Every rejection is logged once with its
 * reason and counted by code.
 */
export class Ingest {
  private readonly o: IngestOptions;
  private readonly handlers = new Map<string, MessageHandler>();
  private readonly verifier: EnvelopeVerifier;
  private pending: Accepted[] = [];
  /** (sender, seq) → signature of the envelopes in the pending batch */
  private pendingKeys = new Map<string, string>();
  private pendingRejections = new Map<string, number>();
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** when the last commit started, on the monotonic clock */
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private lastCommitSize = 0;
  private readonly bursts = new BurstLog();
  /** verdicts the verify threads returned, by envelope object and the key they were checked against */
  private readonly verdicts = new WeakMap<Envelope, { key: Uint8Array; ok: boolean }>();
  private verifying: Verifying[] = [];
  private dispatchScheduled = false;
  /** the batches at the verify threads, settled in the order they were sent */
  private inflight: Promise<void> = Promise.resolve();
  private inflightBatches = 0;
  private poolFailureLogged = false;
  private closed = false;
  readonly stats = {
    accepted: 0,
    duplicates: 0,
    equivocations: 0,
    /** envelopes whose verdict came from a verify thread */
    verifiedOnThreads: 0,
    rejected: {} as Record<string, number>,
  };

  constructor(opts: IngestOptions) {
    this.o = opts;
    this.verifier = new EnvelopeVerifier({
      directory: opts.directory,
      sequences: storeChecksReplays,
      freshness: {
        maxAgeMs: (type) => this.handlers.get(type)?.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
        maxFutureMs: opts.maxFutureMs,
      },
      checkSignature: (e: Envelope, pk: Uint8Array) => {
        const known = this.verdicts.get(e);
        if (known !== undefined && equalBytes(known.key, pk)) return known.ok;
        if (opts.checkSignature !== undefined) return opts.checkSignature(e, toHex(pk));
        return envelopeSignatureHolds(e, pk);
      },
      now: opts.now,
    });
  }

  registerHandler<T>(type: string, handler: MessageHandler<T>): void {
    if (this.handlers.has(type)) throw new RangeError(`a handler for "${type}" is already registered`);
    this.handlers.set(type, handler as MessageHandler);
  }

  /**
   * Counts every rejection; logs the first of a burst of one code from one sender (or topic), so that
   * a flood of junk costs a counter, not a log line per message.
   */
  private reject(code: string, reason: string, fields: Record<string, unknown>): void {
    this.count(code);
    const source = String(fields.from ?? fields.topic ?? "");
    const burst = this.bursts.note(`${code}\u0000${source}`, this.o.now());
    if (burst === undefined) return;
    this.o.log.warn("envelope rejected", {
      code,
      reason,
      ...fields,
      ...(burst.previous > 1 ? { previousBurst: burst.previous } : {}),
    });
  }

  /** Counts a refusal by code in the persistent counters (the broker's refusals land here too). */
  count(code: string): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    this.pendingRejections.set(code, (this.pendingRejections.get(code) ?? 0) + 1);
    this.scheduleFlush();
  }

  receive(topic: string, payload: Buffer): void {
    if (this.closed) return;
    const t = parseAgentTopic(topic);
    if (t === undefined || t.leaf !== "up") return;
    let env: Envelope;
    try {
      env = decodeEnvelope(payload);
    } catch (e) {
      const reason = describeError(e);
      // Only the agent may publish on its topic (broker ACL), so the topic names whom to tell; when a
      // shallow scan finds the sequence number, the agent is told to drop the envelope instead of
      // resending it for ever.
      const seq = scanEnvelopeSeq(payload);
      this.reject("MALFORMED", reason, { topic, seq });
      if (seq !== undefined) this.o.receipts.reject(t.agentId, seq, "MALFORMED", reason);
      return;
    }
    if (env.from !== t.agentId) {
      const where = { topic, from: env.from, seq: env.seq, type: env.type };
      this.reject("WRONG_TOPIC", `envelope from "${env.from}" published on ${topic}`, where);
      return;
    }
    const job = this.signatureJob(env, payload);
    if (job === undefined) {
      this.admit(topic, payload, env);
      return;
    }
    this.verifying.push({ topic, payload, env, job });
    if (this.verifying.length >= MAX_VERIFY_BATCH) this.dispatch();
    else if (!this.dispatchScheduled) {
      this.dispatchScheduled = true;
      setImmediate(() => {
        this.dispatchScheduled = false;
        this.dispatch();
      });
    }
  }

  /**
   * What the verify threads are to check for `env`, or undefined where it is checked inline: no pool (or
   * a broken one), an unknown or revoked sender (refused inline with its code).
   */
  private signatureJob(env: Envelope, payload: Buffer): SignatureJob | undefined {
    if (this.o.pool === undefined || this.o.pool.broken !== undefined) return undefined;
    const sender = this.o.directory.lookup(env.from);
    if (sender === undefined || sender.revoked) return undefined;
    if (sender.publicKey.length !== 32) return undefined;
    return { wire: payload, key: sender.publicKey };
  }

  /** Sends what waits for a verdict to the verify threads; the answers are handled in sending order. */
  private dispatch(): void {
    if (this.verifying.length === 0 || this.o.pool === undefined) return;
    const batch = this.verifying;
    this.verifying = [];
    if (batch.length < MIN_THREAD_BATCH && this.inflightBatches === 0) {
      // nothing at the threads to wait for: verified here, at once
      for (const b of batch) this.admit(b.topic, b.payload, b.env);
      return;
    }
    this.inflightBatches++;
    const answer = (
      batch.length < MIN_THREAD_BATCH
        ? Promise.resolve(undefined)
        : this.o.pool.verify(batch.map((b) => b.job))
    ).then(
      (v) => v,
      (e: unknown) => {
        // Nothing is lost: without a verdict each envelope is verified inline below.
        if (!this.closed && !this.poolFailureLogged) {
          this.poolFailureLogged = true;
          this.o.log.error("verify thread failed; verifying inline from now on", { error: describeError(e) });
        }
        return undefined;
      },
    );
    this.inflight = this.inflight
      .then(() => answer)
      .then((verdicts) => {
        this.inflightBatches--;
        if (this.closed) return;
        for (let i = 0; i < batch.length; i++) {
          const b = batch[i];
          if (verdicts !== undefined) {
            this.stats.verifiedOnThreads++;
            this.verdicts.set(b.env, { key: b.job.key, ok: verdicts[i] });
            if (this.o.rememberSignature !== undefined && this.handlers.get(b.env.type)?.reverified === true)
              this.o.rememberSignature(b.env, toHex(b.job.key), envelopeSigningBytes(b.env), verdicts[i]);
          }
          this.admit(b.topic, b.payload, b.env);
        }
      })
      .catch((e: unknown) =>
        this.o.log.error("ingest failed after verification", { error: describeError(e) }),
      );
  }

  /**
   * Waits for the verify threads to answer for everything received so far and commits it; then stops
   * taking envelopes (what arrives later is not receipted, so its sender sends it again).
   */
  async close(): Promise<void> {
    await this.settle();
    this.closed = true;
    clearTimeout(this.flushTimer);
  }

  /** Waits for the verify threads to answer for everything received so far, then commits it. */
  async settle(): Promise<void> {
    this.dispatch();
    await this.inflight;
    this.flush();
  }

  /** The checks after the envelope's shape: signature, freshness, duplicate, body, handler's admission. */
  private admit(topic: string, payload: Buffer, env: Envelope): void {
    const where = { topic, from: env.from, seq: env.seq, type: env.type };
    try {
      this.check(env);
    } catch (e) {
      const code = isGridletError(e) ? e.code : "ERROR";
      this.reject(code, describeError(e), where);
      // STALE is final and the signature was good: tell the agent to stop resending it.
      if (isProtocolError(e, "STALE")) this.o.receipts.reject(env.from, env.seq, code, describeError(e));
      return;
    }
    // Duplicates of committed envelopes are found by the store's (sender, seq) key at commit time, which
    // saves a lookup per envelope; duplicates within the pending batch are caught here.
    const key = `${env.from}\u0000${env.seq}`;
    // Another signature under the same key goes on to the commit, which finds it an equivocation.
    if (this.pendingKeys.get(key) === env.sig) {
      this.duplicate(where);
      return;
    }
    const handler = this.handlers.get(env.type);
    if (handler === undefined) {
      this.reject("UNKNOWN_TYPE", `no handler for envelope type "${env.type}"`, where);
      this.o.receipts.reject(env.from, env.seq, "UNKNOWN_TYPE", `no handler for "${env.type}"`);
      return;
    }
    let body: unknown;
    try {
      body = handler.parse(env.body);
    } catch (e) {
      const reason = describeBodyError(e);
      this.reject("BAD_BODY", reason, where);
      this.o.receipts.reject(env.from, env.seq, "BAD_BODY", reason);
      return;
    }
    const refusal = handler.admit?.(env);
    if (refusal !== undefined) {
      this.reject(refusal.code, refusal.reason, where);
      this.o.receipts.reject(env.from, env.seq, refusal.code, refusal.reason);
      return;
    }
    this.pending.push({
      env,
      raw: payload.toString("utf8"),
      body,
      store: handler.store,
      refuse: handler.refuse,
      rolledBack: handler.rolledBack,
    });
    if (!this.pendingKeys.has(key)) this.pendingKeys.set(key, env.sig);
    if (this.pending.length >= MAX_PENDING) this.flush();
    else this.scheduleFlush();
  }

  /**
   * The same (sender, seq) with another signature: the sender signed two messages under one sequence
   * number (a store rolled back, or a hostile sender). The first one stored stands; the other is
   * refused, logged, counted and reported to the sender with the highest sequence stored from it, above
   * which it re-signs what it still holds.
   */
  private equivocation(env: Envelope, where: Record<string, unknown>): void {
    this.stats.equivocations += 1;
    const highest = this.o.store.highestSeq(env.from);
    const reason = `seq ${env.seq} is already stored with other content; highest stored ${highest ?? "none"}`;
    this.reject("EQUIVOCATION", reason, where);
    this.o.receipts.reject(env.from, env.seq, "EQUIVOCATION", reason, highest);
  }

  private check(env: Envelope): void {
    try {
      this.verifier.check(env);
    } catch (e) {
      if (isProtocolError(e, "UNKNOWN_SENDER") && this.o.refreshSender?.(env.from)) {
        this.verifier.check(env);
        return;
      }
      throw e;
    }
  }

  /**
   * At the end of this turn; under load (the last commit was large) not before `commitSpacingMs` after
   * the last commit started.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flushTimer = undefined;
      if (!this.closed) this.flush();
    };
    const spacing =
      this.lastCommitSize < GROUP_COMMIT_FROM ? 0 : (this.o.commitSpacingMs ?? COMMIT_SPACING_MS);
    const wait = this.lastCommitAt + spacing - this.monotonic();
    if (wait <= 0) setImmediate(run);
    else this.flushTimer = setTimeout(run, Math.ceil(wait));
  }

  private monotonic(): number {
    return this.o.monotonicMs?.() ?? performance.now();
  }

  /** Commits what was accepted since the last flush, then receipts it. */
  flush(): void {
    if (this.pending.length === 0 && this.pendingRejections.size === 0) return;
    this.lastCommitAt = this.monotonic();
    this.lastCommitSize = this.pending.length;
    const batch = this.pending;
    const rejections = this.pendingRejections;
    this.pending = [];
    this.pendingKeys = new Map();
    this.pendingRejections = new Map();
    const r = this.o.store.commit(batch, rejections, this.o.now());
    // Receipts only from here on: the commit has returned, so what they acknowledge is on disk.
    this.stats.accepted += r.fresh.length;
    const where = (a: Accepted) => ({ from: a.env.from, seq: a.env.seq, type: a.env.type });
    for (const a of r.fresh) this.o.receipts.ack(a.env.from, a.env.seq);
    for (const a of r.duplicates) {
      this.duplicate(where(a));
      this.o.receipts.ack(a.env.from, a.env.seq);
    }
    for (const a of r.equivocations) this.equivocation(a.env, where(a));
    for (const { a, refusal } of r.refused) this.refused(a, refusal);
  }

  private refused(a: Accepted, refusal: Refusal): void {
    this.reject(refusal.code, refusal.reason, { from: a.env.from, seq: a.env.seq, type: a.env.type });
    this.o.receipts.reject(a.env.from, a.env.seq, refusal.code, refusal.reason);
  }

  /** A resent envelope: stored once already, so only receipted again (its sender lost the receipt). */
  private duplicate(where: Record<string, unknown>): void {
    this.stats.duplicates += 1;
    // Counted, but only debug-logged: after every reconnect an agent legitimately resends many.
    this.count("DUPLICATE");
    this.o.log.debug("duplicate envelope, receipting again", where);
  }
}
