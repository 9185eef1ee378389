import type Database from "better-sqlite3";
import type { SequenceStore } from "../../protocol/envelope.js";

/**
 * The highest login sequence number seen per identity, in the aggregator's SQLite file, so that a
 * token captured before a restart is still a replay after it.
 */
export class SqliteLoginSequences implements SequenceStore {
  private readonly get: Database.Statement<[string], { seq: number }>;
  private readonly put: Database.Statement<[string, number]>;

  constructor(db: Database.Database) {
    db.exec(
      "CREATE TABLE IF NOT EXISTS login_sequences (identity TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID",
    );
    this.get = db.prepare("SELECT seq FROM login_sequences WHERE identity = ?");
    this.put = db.prepare(
      "INSERT INTO login_sequences (identity, seq) VALUES (?, ?) ON CONFLICT (identity) DO UPDATE SET seq = max(seq, excluded.seq)",
    );
  }

  last(identity: string): number | undefined {
    return this.get.get(identity)?.seq;
  }

  advance(identity: string, seq: number): void {
    this.put.run(identity, seq);
  }
}
