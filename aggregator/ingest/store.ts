import Database from "better-sqlite3";
import type { Envelope } from "../../protocol/envelope.js";
import { GridletError } from "../../protocol/errors.js";

export type IngestStoreErrorCode = "STORE_OPEN_FAILED" | "STORE_IDENTITY_MISMATCH";
export class IngestStoreError extends GridletError<IngestStoreErrorCode> {}

/**
 * A handler's refusal of one envelope at commit time, when the answer depends on what is stored (a
 * register that runs backwards, a summary that differs from the readings). Thrown before the handler
 * writes anything; the envelope is then not stored and its sender gets the code in its receipt.
 */
export class IngestRefusal extends GridletError<string> {}

/** One verified envelope waiting to be committed, with what its handler parsed from the body. */
export interface Accepted {
  env: Envelope;
  raw: string;
  body: unknown;
  store: (db: Database.Database, env: Envelope, body: unknown, raw: string) => void;
}

/**
 * The aggregator's SQLite file (WAL): every accepted envelope's (sender, seq), which is what makes
 * ingest exactly-once, the tables of the handlers, the rejection counters and the aggregator's own
 * sequence counter for the receipts it signs.
 */
export class AggregatorStore {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string, aggregatorId: string, firstSeq: () => number) {
    try {
      this.db = new Database(path);
    } catch (e) {
      throw new IngestStoreError(
        "STORE_OPEN_FAILED",
        `cannot open aggregator store ${path}: ${(e as Error).message}`,
      );
    }
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS envelopes (sender TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
        received_at INTEGER NOT NULL, PRIMARY KEY (sender, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS rejections (code TEXT PRIMARY KEY, count INTEGER NOT NULL);
    `);
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
    // Clock-derived, as in the agent's store: a wiped store never reuses a receipt sequence number.
    put.run("next_seq", String(firstSeq()));
    this.stmts = {
      seen: this.db.prepare<[string, number], { n: number }>(
        "SELECT 1 AS n FROM envelopes WHERE sender = ? AND seq = ?",
      ),
      insertSeen: this.db.prepare(
        "INSERT OR IGNORE INTO envelopes (sender, seq, type, received_at) VALUES (?, ?, ?, ?)",
      ),
      deleteSeen: this.db.prepare<[string, number]>("DELETE FROM envelopes WHERE sender = ? AND seq = ?"),
      bumpRejection: this.db.prepare(
        "INSERT INTO rejections (code, count) VALUES (?, ?) ON CONFLICT(code) DO UPDATE SET count = count + excluded.count",
      ),
      getSeq: this.db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'next_seq'"),
      setSeq: this.db.prepare<[string]>("UPDATE meta SET value = ? WHERE key = 'next_seq'"),
    };
  }

  isStored(sender: string, seq: number): boolean {
    return this.stmts.seen.get(sender, seq) !== undefined;
  }

  /**
   * Commits a batch in one transaction; returns the envelopes actually new (a duplicate inside the batch
   * or one committed meanwhile is skipped, not stored twice) and those a handler refused (IngestRefusal),
   * which are not stored at all. Envelopes are stored in batch order, so a check sees earlier ones.
   */
  commit(
    batch: readonly Accepted[],
    rejections: ReadonlyMap<string, number>,
    now: number,
    refused: { a: Accepted; refusal: IngestRefusal }[] = [],
  ): Accepted[] {
    return this.db.transaction(() => {
      const fresh: Accepted[] = [];
      for (const a of batch) {
        if (this.stmts.insertSeen.run(a.env.from, a.env.seq, a.env.type, now).changes === 0) continue;
        try {
          a.store(this.db, a.env, a.body, a.raw);
        } catch (e) {
          if (!(e instanceof IngestRefusal)) throw e;
          this.stmts.deleteSeen.run(a.env.from, a.env.seq);
          refused.push({ a, refusal: e });
          continue;
        }
        fresh.push(a);
      }
      for (const [code, n] of rejections) this.stmts.bumpRejection.run(code, n);
      for (const r of refused) this.stmts.bumpRejection.run(r.refusal.code, 1);
      return fresh;
    })();
  }

  allocateSeq(): number {
    return this.db.transaction(() => {
      const seq = Number(this.stmts.getSeq.get()!.value);
      this.stmts.setSeq.run(String(seq + 1));
      return seq;
    })();
  }

  close(): void {
    this.db.close();
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
