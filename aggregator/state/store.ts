import Database from "better-sqlite3";
import type { Tx } from "./handler.js";
import type { ApplyContext } from "./replicated.js";

/**
 * The ordered transaction log and state snapshots in SQLite (WAL). The log is the truth: a snapshot only
 * shortens recovery, which restores the newest snapshot and re-applies the log after it.
 */

export interface LogEntry {
  /** 1-based position in the global order */
  seq: number;
  tx: Tx;
  ctx: ApplyContext;
  /** the result recorded when the entry was first applied; replay must reproduce it */
  code: string | null;
}

export interface StoredSnapshot {
  seq: number;
  hash: string;
  /** canonical JSON text of the snapshot */
  state: string;
}

export interface TradingStoreOptions {
  /** FULL (default) survives power loss; NORMAL survives process crashes only, and wears flash less */
  synchronous?: "FULL" | "NORMAL";
  /** snapshots kept besides the newest */
  keepSnapshots?: number;
}

export class TradingStore {
  private readonly db: Database.Database;
  private readonly insertLog: Database.Statement;
  private readonly keep: number;

  private constructor(db: Database.Database, opts: TradingStoreOptions) {
    this.db = db;
    this.keep = opts.keepSnapshots ?? 2;
    this.insertLog = db.prepare(
      "INSERT INTO txlog (seq, height, time, proposer, tx, code) VALUES (@seq, @height, @time, @proposer, @tx, @code)",
    );
  }

  static open(path: string, opts: TradingStoreOptions = {}): TradingStore {
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${opts.synchronous ?? "FULL"}`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS txlog (
        seq INTEGER PRIMARY KEY, height INTEGER NOT NULL, time INTEGER NOT NULL, proposer TEXT NOT NULL,
        tx TEXT NOT NULL, code TEXT);
      CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, state TEXT NOT NULL);
    `);
    return new TradingStore(db, opts);
  }

  getMeta(key: string): string | null {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row ? row.value : null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  }

  /** Appends entries atomically (one block at a time). */
  append(entries: readonly LogEntry[]): void {
    this.db.transaction((list: readonly LogEntry[]) => {
      for (const e of list)
        this.insertLog.run({
          seq: e.seq,
          height: e.ctx.height,
          time: e.ctx.time,
          proposer: e.ctx.proposer,
          tx: JSON.stringify(e.tx),
          code: e.code,
        });
    })(entries);
  }

  lastSeq(): number {
    const row = this.db.prepare("SELECT MAX(seq) AS s FROM txlog").get() as { s: number | null };
    return row.s ?? 0;
  }

  *entries(afterSeq = 0): Generator<LogEntry> {
    const rows = this.db
      .prepare("SELECT seq, height, time, proposer, tx, code FROM txlog WHERE seq > ? ORDER BY seq")
      .iterate(afterSeq) as Iterable<{
      seq: number;
      height: number;
      time: number;
      proposer: string;
      tx: string;
      code: string | null;
    }>;
    for (const r of rows)
      yield {
        seq: r.seq,
        tx: JSON.parse(r.tx) as Tx,
        ctx: { time: r.time, height: r.height, proposer: r.proposer },
        code: r.code,
      };
  }

  saveSnapshot(s: StoredSnapshot): void {
    this.db.transaction(() => {
      this.db
        .prepare("INSERT OR REPLACE INTO snapshots (seq, hash, state) VALUES (?, ?, ?)")
        .run(s.seq, s.hash, s.state);
      this.db
        .prepare(
          "DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
        )
        .run(this.keep + 1);
    })();
  }

  latestSnapshot(): StoredSnapshot | null {
    const row = this.db.prepare("SELECT seq, hash, state FROM snapshots ORDER BY seq DESC LIMIT 1").get() as
      | StoredSnapshot
      | undefined;
    return row ?? null;
  }

  close(): void {
    this.db.close();
  }
}
