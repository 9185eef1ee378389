import type Database from "better-sqlite3";
import type { SenderDirectory } from "../../protocol/envelope.js";
import {
  decodeEnvelope,
  type Envelope,
  EnvelopeVerifier,
  type SequenceStore,
} from "../../protocol/envelope.js";
import { describeError, isGridletError, isProtocolError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";
import { parseAgentTopic } from "../../protocol/topics.js";
import type { ReceiptBatcher } from "./receipts.js";
import type { Accepted, AggregatorStore, IngestRefusal } from "./store.js";

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
  /** writes the message inside ingest's transaction */
  store(db: Database.Database, env: Envelope, body: T, raw: string): void;
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
}

/**
 * Verifies every envelope arriving on `gridlet/v1/agent/<id>/up`, in this order: shape, sender matches
 * the topic, signature, freshness for its type, duplicate. Accepted ones are committed in batches (one
 * transaction per turn of the event loop), then receipted. Every rejection is logged once with its
 * reason and counted by code.
 */
export class Ingest {
  private readonly o: IngestOptions;
  private readonly handlers = new Map<string, MessageHandler>();
  private readonly verifier: EnvelopeVerifier;
  private pending: Accepted[] = [];
  private pendingKeys = new Set<string>();
  private pendingRejections = new Map<string, number>();
  private flushScheduled = false;
  readonly stats = { accepted: 0, duplicates: 0, rejected: {} as Record<string, number> };

  constructor(opts: IngestOptions) {
    this.o = opts;
    this.verifier = new EnvelopeVerifier({
      directory: opts.directory,
      sequences: storeChecksReplays,
      freshness: {
        maxAgeMs: (type) => this.handlers.get(type)?.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
        maxFutureMs: opts.maxFutureMs,
      },
      now: opts.now,
    });
  }

  registerHandler<T>(type: string, handler: MessageHandler<T>): void {
    if (this.handlers.has(type)) throw new RangeError(`a handler for "${type}" is already registered`);
    this.handlers.set(type, handler as MessageHandler);
  }

  private reject(code: string, reason: string, fields: Record<string, unknown>): void {
    this.count(code);
    this.o.log.warn("envelope rejected", { code, reason, ...fields });
  }

  /** Counts a refusal by code in the persistent counters (the broker's refusals land here too). */
  count(code: string): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    this.pendingRejections.set(code, (this.pendingRejections.get(code) ?? 0) + 1);
    this.scheduleFlush();
  }

  receive(topic: string, payload: Buffer): void {
    const t = parseAgentTopic(topic);
    if (t === undefined || t.leaf !== "up") return;
    let env: Envelope;
    try {
      env = decodeEnvelope(payload);
    } catch (e) {
      this.reject("MALFORMED", describeError(e), { topic });
      return;
    }
    const where = { topic, from: env.from, seq: env.seq, type: env.type };
    if (env.from !== t.agentId) {
      this.reject("WRONG_TOPIC", `envelope from "${env.from}" published on ${topic}`, where);
      return;
    }
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
    if (this.pendingKeys.has(key)) {
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
      const reason = describeError(e).split("\n")[0];
      this.reject("BAD_BODY", reason, where);
      this.o.receipts.reject(env.from, env.seq, "BAD_BODY", reason);
      return;
    }
    this.pending.push({ env, raw: payload.toString("utf8"), body, store: handler.store });
    this.pendingKeys.add(key);
    this.scheduleFlush();
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

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Commits what was accepted since the last flush, then receipts it. */
  flush(): void {
    if (this.pending.length === 0 && this.pendingRejections.size === 0) return;
    const batch = this.pending;
    const rejections = this.pendingRejections;
    this.pending = [];
    this.pendingKeys = new Set();
    this.pendingRejections = new Map();
    const refused: { a: Accepted; refusal: IngestRefusal }[] = [];
    const fresh = new Set(this.o.store.commit(batch, rejections, this.o.now(), refused));
    this.stats.accepted += fresh.size;
    const no = new Set(refused.map((r) => r.a));
    for (const { a, refusal } of refused) {
      // counted in the store's table by commit; here for the live counters and the log
      this.stats.rejected[refusal.code] = (this.stats.rejected[refusal.code] ?? 0) + 1;
      this.o.log.warn("envelope rejected", {
        code: refusal.code,
        reason: refusal.message,
        from: a.env.from,
        seq: a.env.seq,
        type: a.env.type,
      });
      this.o.receipts.reject(a.env.from, a.env.seq, refusal.code, refusal.message);
    }
    for (const a of batch) {
      if (no.has(a)) continue;
      if (!fresh.has(a)) this.duplicate({ from: a.env.from, seq: a.env.seq, type: a.env.type });
      this.o.receipts.ack(a.env.from, a.env.seq);
    }
  }

  /** A resent envelope: stored once already, so only receipted again (its sender lost the receipt). */
  private duplicate(where: Record<string, unknown>): void {
    this.stats.duplicates += 1;
    // Counted, but only debug-logged: after every reconnect an agent legitimately resends many.
    this.count("DUPLICATE");
    this.o.log.debug("duplicate envelope, receipting again", where);
  }
}
