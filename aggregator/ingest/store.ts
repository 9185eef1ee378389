import Database from "better-sqlite3";
import type { Envelope } from "../../protocol/envelope.js";
import { errorFamily, type FamilyError } from "../../protocol/errors.js";
import { openStore } from "../../protocol/store-file.js";

export type IngestStoreErrorCode = "STORE_OPEN_FAILED" | "STORE_IDENTITY_MISMATCH";
export const { Error: IngestStoreError } = errorFamily<IngestStoreErrorCode>("IngestStoreError");
export type IngestStoreError = FamilyError<IngestStoreErrorCode>;

/** A handler's final refusal of an envelope found at commit time (e.g. a register running backwards). */
export interface Refusal {
  code: string;
  reason: string;
}

/** One verified envelope waiting to be committed, with what its handler parsed from the body. */
export interface Accepted {
  env: Envelope;
  raw: string;
  body: unknown;
  store: (db: Database.Database, env: Envelope, body: unknown, raw: string) => void;
  /** checked inside the commit, against what is stored: a refusal keeps the envelope out for good */
  refuse?: (db: Database.Database, env: Envelope, body: unknown) => Refusal | undefined;
  /** called when the commit's transaction rolled back */
  rolledBack?: () => void;
}

/** What a commit did with each envelope of its batch. */
export interface CommitResult {
  /** stored now */
  fresh: Accepted[];
  /** stored before with the same signature: a resend, receipted again */
  duplicates: Accepted[];
  /** stored before under the same (sender, seq) with another signature: the sender equivocates */
  equivocations: Accepted[];
  /** refused by the handler's check against the store */
  refused: { a: Accepted; refusal: Refusal }[];
}

/**
 * The aggregator's SQLite file (WAL): every accepted envelope's (sender, seq), which is what makes
 * ingest exactly-once, the tables of the handlers, the rejection counters and the aggregator's own
 * sequence counter for the receipts it signs.
 */
export class AggregatorStore {
  readonly db: Database.Database;
  private readonly closeStore: () => void;
  private readonly stmts;

  /** the next sequence number of the aggregator's own envelopes (receipts, downlink, system txs) */
  private nextSeq: number;
  private readonly seqFloor: () => number;
  private loginSeq = 0;

  /**
   * `seqFloor` is the clock's floor (protocol/sequence.ts): every number this store hands out is at least
   * the floor at that moment and above the last one, so numbers keep rising across restarts and restored
   * files without a write per number.
   */
  constructor(path: string, aggregatorId: string, seqFloor: () => number) {
    const store = openStore(path, "aggregator store");
    this.db = store.db;
    this.closeStore = store.close;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS envelopes (sender TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
        received_at INTEGER NOT NULL, sig TEXT, PRIMARY KEY (sender, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS rejections (code TEXT PRIMARY KEY, count INTEGER NOT NULL);
    `);
    // Stores written before signatures were kept: the column is added, old rows compare as resends.
    const columns = this.db.prepare<[], { name: string }>("PRAGMA table_info(envelopes)").all();
    if (!columns.some((c) => c.name === "sig")) this.db.exec("ALTER TABLE envelopes ADD COLUMN sig TEXT");
    const owner = this.db
      .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'aggregator'")
      .get();
    if (owner !== undefined && owner.value !== aggregatorId) {
      throw new IngestStoreError(
        "STORE_IDENTITY_MISMATCH",
        `aggregator store ${path} belongs to "${owner.value}", not "${aggregatorId}"`,
      );
    }
    const put = this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
    put.run("aggregator", aggregatorId);
    this.seqFloor = seqFloor;
    put.run("next_seq", "0");
    this.stmts = {
      seen: this.db.prepare<[string, number], { n: number }>(
        "SELECT 1 AS n FROM envelopes WHERE sender = ? AND seq = ?",
      ),
      insertSeen: this.db.prepare(
        "INSERT OR IGNORE INTO envelopes (sender, seq, type, received_at, sig) VALUES (?, ?, ?, ?, ?)",
      ),
      unclaim: this.db.prepare<[string, number]>("DELETE FROM envelopes WHERE sender = ? AND seq = ?"),
      storedSig: this.db.prepare<[string, number], { sig: string | null }>(
        "SELECT sig FROM envelopes WHERE sender = ? AND seq = ?",
      ),
      highestSeq: this.db.prepare<[string], { seq: number | null }>(
        "SELECT max(seq) AS seq FROM envelopes WHERE sender = ?",
      ),
      bumpRejection: this.db.prepare(
        "INSERT INTO rejections (code, count) VALUES (?, ?) ON CONFLICT(code) DO UPDATE SET count = count + excluded.count",
      ),
      getSeq: this.db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'next_seq'"),
      setSeq: this.db.prepare<[string]>("UPDATE meta SET value = ? WHERE key = 'next_seq'"),
    };
    this.nextSeq = Math.max(Number(this.stmts.getSeq.get()!.value), seqFloor());
  }

  isStored(sender: string, seq: number): boolean {
    return this.stmts.seen.get(sender, seq) !== undefined;
  }

  /** The highest sequence number stored from a sender, if any. */
  highestSeq(sender: string): number | undefined {
    return this.stmts.highestSeq.get(sender)?.seq ?? undefined;
  }

  /**
   * Commits a batch in one transaction and sorts its envelopes: new ones are stored; one whose (sender,
   * seq) is stored already is a resend when the signature is the same, an equivocation when it is not;
   * a handler's check may refuse one against what is stored. Nothing is stored twice.
   */
  commit(batch: readonly Accepted[], rejections: ReadonlyMap<string, number>, now: number): CommitResult {
    // Receipts follow this commit: it alone runs with synchronous=FULL (one fsync for the whole batch,
    // group commit), the other writes of this file stay NORMAL.
    this.db.pragma("synchronous = FULL");
    try {
      return this.commitBatch(batch, rejections, now);
    } catch (e) {
      for (const f of new Set(batch.map((a) => a.rolledBack))) f?.();
      throw e;
    } finally {
      this.db.pragma("synchronous = NORMAL");
    }
  }

  private commitBatch(
    batch: readonly Accepted[],
    rejections: ReadonlyMap<string, number>,
    now: number,
  ): CommitResult {
    return this.db.transaction(() => {
      const r: CommitResult = { fresh: [], duplicates: [], equivocations: [], refused: [] };
      for (const a of batch) {
        const { from, seq, type, sig } = a.env;
        // Claimed first: a fresh envelope (nearly all of them) costs one statement here, not a lookup
        // and then an insert.
        if (this.stmts.insertSeen.run(from, seq, type, now, sig).changes === 0) {
          const stored = this.stmts.storedSig.get(from, seq)!;
          // a row from before signatures were kept (null) cannot show equivocation
          if (stored.sig === null || stored.sig === sig) r.duplicates.push(a);
          else r.equivocations.push(a);
          continue;
        }
        const refusal = a.refuse?.(this.db, a.env, a.body);
        if (refusal !== undefined) {
          this.stmts.unclaim.run(from, seq);
          r.refused.push({ a, refusal });
          continue;
        }
        a.store(this.db, a.env, a.body, a.raw);
        r.fresh.push(a);
      }
      for (const [code, n] of rejections) this.stmts.bumpRejection.run(code, n);
      // the counter rides along, so that a clock running behind after a restart still starts above it
      this.stmts.setSeq.run(String(this.nextSeq));
      return r;
    })();
  }

  /** The next number of one of the aggregator's own envelopes; no write (see the constructor). */
  allocateSeq(): number {
    const seq = Math.max(this.nextSeq, this.seqFloor());
    this.nextSeq = seq + 1;
    return seq;
  }

  /** The sequence number of a login token to a broker: its own counter, rising, at least the floor. */
  nextLoginSeq(): number {
    this.loginSeq = Math.max(this.loginSeq + 1, this.seqFloor());
    return this.loginSeq;
  }

  close(): void {
    this.stmts.setSeq.run(String(this.nextSeq));
    this.closeStore();
  }
}

export interface AggregatorStatus {
  envelopes: number;
  readings: number;
  readingsBySender: Record<string, number>;
  rejections: Record<string, number>;
}

/** Counters for `gridlet aggregator status`, read from the file while the aggregator runs. */
export function readAggregatorStatus(path: string): AggregatorStatus {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new IngestStoreError(
      "STORE_OPEN_FAILED",
      `cannot open aggregator store ${path}: ${(e as Error).message}`,
    );
  }
  try {
    const hasReadings =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'readings'").get() !==
      undefined;
    const bySender: Record<string, number> = {};
    if (hasReadings) {
      for (const r of db
        .prepare<[], { sender: string; n: number }>(
          "SELECT sender, count(*) AS n FROM readings GROUP BY sender",
        )
        .all())
        bySender[r.sender] = r.n;
    }
    const rejections: Record<string, number> = {};
    for (const r of db
      .prepare<[], { code: string; count: number }>("SELECT code, count FROM rejections")
      .all())
      rejections[r.code] = r.count;
    return {
      envelopes: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM envelopes").get()!.n,
      readings: Object.values(bySender).reduce((a, b) => a + b, 0),
      readingsBySender: bySender,
      rejections,
    };
  } finally {
    db.close();
  }
}
