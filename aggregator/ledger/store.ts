import Database from "better-sqlite3";
import { openStore } from "../../protocol/store-file.js";
import type { LedgerEntry } from "./block.js";
import { LedgerError } from "./errors.js";

/** A stable checkpoint: the state hash after `round` full rounds, with 2f+1 member signatures. */
export interface CheckpointRecord {
  round: number;
  stateHash: string;
  link: string;
  sigs: { from: string; sig: string }[];
}

/** Consortium members as recorded in a ledger, so that an auditor can check it on its own. */
export interface LedgerMember {
  id: string;
  /** ed25519 public key, hex */
  publicKey: string;
}

/**
 * The decided blocks of one aggregator in SQLite (WAL). Entries are appended strictly in global order;
 * a gap or a broken link is refused, so the file always holds a verifiable prefix of the ledger.
 */
export class BlockStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly bySeq: Database.Statement;
  private readonly range: Database.Statement;
  private readonly lastRow: Database.Statement;
  private readonly closeStore: () => void;
  private readonly statements = new Map<string, Database.Statement>();
  private votesTable = false;

  constructor(file: string, options: { readonly?: boolean } = {}) {
    if (options.readonly) {
      try {
        this.db = new Database(file, { readonly: true, fileMustExist: true });
      } catch (e) {
        throw new LedgerError("STORE", `cannot open ledger ${file}: ${(e as Error).message}`, { file });
      }
      this.closeStore = () => this.db.close();
    } else {
      // Votes and blocks are promises to the peers: on disk before they are sent (group commit in
      // ReplicaHost makes it one fsync per turn of the event loop).
      const store = openStore(file, "ledger", { synchronous: "FULL" });
      this.db = store.db;
      this.closeStore = store.close;
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS blocks (
          seq INTEGER PRIMARY KEY, round INTEGER NOT NULL, idx INTEGER NOT NULL,
          hash TEXT NOT NULL, prev TEXT NOT NULL, link TEXT NOT NULL, entry TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS checkpoints (
          round INTEGER PRIMARY KEY, state_hash TEXT NOT NULL, link TEXT NOT NULL, sigs TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS votes (
          seq INTEGER NOT NULL, kind TEXT NOT NULL, view INTEGER NOT NULL, record TEXT NOT NULL,
          PRIMARY KEY (seq, kind, view));`);
    }
    const hasBlocks = this.db
      .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='blocks'")
      .get();
    if (hasBlocks === undefined) throw new LedgerError("STORE", `${file} is not a Gridlet ledger`, { file });
    this.insert = this.db.prepare(
      "INSERT INTO blocks (seq, round, idx, hash, prev, link, entry) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.bySeq = this.db.prepare("SELECT entry FROM blocks WHERE seq = ?");
    this.range = this.db.prepare("SELECT entry FROM blocks WHERE seq >= ? ORDER BY seq LIMIT ?");
    this.lastRow = this.db.prepare("SELECT seq, link FROM blocks ORDER BY seq DESC LIMIT 1");
  }

  /** Runs `fn`'s writes as one transaction: with synchronous=FULL, one fsync for all of them. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Next sequence number expected and the link it must chain to. */
  head(): { nextSeq: number; link: string | undefined } {
    const row = this.lastRow.get() as { seq: number; link: string } | undefined;
    return row === undefined ? { nextSeq: 0, link: undefined } : { nextSeq: row.seq + 1, link: row.link };
  }

  append(entry: LedgerEntry, hash: string): void {
    const head = this.head();
    if (entry.seq !== head.nextSeq) {
      throw new LedgerError("GAP", `append of block ${entry.seq} but the ledger expects ${head.nextSeq}`);
    }
    if (head.link !== undefined && entry.prev !== head.link) {
      throw new LedgerError("BAD_CHAIN", `block ${entry.seq} does not chain to block ${entry.seq - 1}`);
    }
    const h = entry.block.header;
    this.insert.run(entry.seq, h.round, h.index, hash, entry.prev, entry.link, JSON.stringify(entry));
  }

  get(seq: number): LedgerEntry | undefined {
    const row = this.bySeq.get(seq) as { entry: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.entry) as LedgerEntry);
  }

  /** Up to `limit` entries from `fromSeq` on, in order. */
  list(fromSeq: number, limit: number): LedgerEntry[] {
    return (this.range.all(fromSeq, limit) as { entry: string }[]).map(
      (r) => JSON.parse(r.entry) as LedgerEntry,
    );
  }

  *iterate(): Generator<LedgerEntry> {
    // a statement of its own: two iterations may be open at once
    for (const row of this.db.prepare("SELECT entry FROM blocks ORDER BY seq").iterate()) {
      yield JSON.parse((row as { entry: string }).entry) as LedgerEntry;
    }
  }

  putCheckpoint(c: CheckpointRecord): void {
    this.st("INSERT OR REPLACE INTO checkpoints (round, state_hash, link, sigs) VALUES (?, ?, ?, ?)").run(
      c.round,
      c.stateHash,
      c.link,
      JSON.stringify(c.sigs),
    );
  }

  checkpoints(): CheckpointRecord[] {
    const rows = this.st("SELECT round, state_hash, link, sigs FROM checkpoints ORDER BY round").all() as {
      round: number;
      state_hash: string;
      link: string;
      sigs: string;
    }[];
    return rows.map((r) => ({
      round: r.round,
      stateHash: r.state_hash,
      link: r.link,
      sigs: JSON.parse(r.sigs),
    }));
  }

  /**
   * The member's own votes in slots not yet decided, written before the vote is sent (see VoteRecord in
   * aggregator/consensus/types.ts), so that a restarted member never contradicts itself.
   */
  putVote(record: { seq: number; kind: string; view: number }): void {
    this.st("INSERT OR REPLACE INTO votes (seq, kind, view, record) VALUES (?, ?, ?, ?)").run(
      record.seq,
      record.kind,
      record.view,
      JSON.stringify(record),
    );
  }

  votes<T>(): T[] {
    if (!this.hasVotes()) return [];
    return (this.st("SELECT record FROM votes ORDER BY seq").all() as { record: string }[]).map(
      (r) => JSON.parse(r.record) as T,
    );
  }

  /** Forgets the votes of positions below `seq` (decided and stored). */
  pruneVotes(seq: number): void {
    if (this.hasVotes()) this.st("DELETE FROM votes WHERE seq < ?").run(seq);
  }

  private hasVotes(): boolean {
    // a table once there stays there (files opened read-only may predate it)
    this.votesTable ||=
      this.st("SELECT name FROM sqlite_master WHERE type='table' AND name='votes'").get() !== undefined;
    return this.votesTable;
  }

  /**
   * A prepared statement, compiled once: votes, metadata and checkpoints are written every round, and
   * compiling their SQL each time cost more than running it.
   */
  private st(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  setMeta(key: string, value: unknown): void {
    this.st("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, JSON.stringify(value));
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.st("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  close(): void {
    this.closeStore();
  }
}

/**
 * Records in a ledger what an auditor needs to check it alone: the members and their keys, the state
 * machine to re-execute on, and the consensus mode. A ledger already naming other members is refused.
 */
export function initLedgerMeta(
  store: BlockStore,
  meta: { members: LedgerMember[]; machine: string; mode: "pbft" | "pow" },
): void {
  const existing = store.getMeta<LedgerMember[]>("members");
  if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(meta.members)) {
    throw new LedgerError("STORE", "this ledger belongs to another consortium membership");
  }
  store.setMeta("members", meta.members);
  store.setMeta("machine", meta.machine);
  store.setMeta("mode", meta.mode);
}
