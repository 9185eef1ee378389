import Database from "better-sqlite3";
import { IngestStoreError } from "./store.js";

/**
 * The readings export (`gridlet ledger export --readings STORE …`): every signed reading and meter
 * replacement that aggregators ingested, as extra lines of the ledger export, so that an auditor can
 * rebuild the evidence of every meter summary in the ledger. Several aggregators' stores may be given
 * (an agent that failed over has readings at more than one); an envelope held by several is written
 * once. Lines: `{"kind": "reading", "envelope": …}` and `{"kind": "meter-replacement", "envelope": …}`.
 */
export function* readingsExport(files: readonly string[]): Generator<object> {
  const seen = new Set<string>();
  for (const file of files) {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
    } catch (e) {
      throw new IngestStoreError(
        "STORE_OPEN_FAILED",
        `cannot open aggregator store ${file}: ${(e as Error).message}`,
      );
    }
    try {
      const has = (t: string) =>
        db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
      const tables: [string, string][] = [
        ["readings", "reading"],
        ["meter_replacements", "meter-replacement"],
      ];
      for (const [table, kind] of tables) {
        if (!has(table)) continue;
        const rows = db
          .prepare<[], { sender: string; seq: number; envelope: string }>(
            `SELECT sender, seq, envelope FROM ${table} ORDER BY sender, seq`,
          )
          .iterate();
        for (const r of rows) {
          const key = `${r.sender}\u0000${r.seq}`;
          if (seen.has(key)) continue;
          seen.add(key);
          yield { kind, envelope: JSON.parse(r.envelope) };
        }
      }
    } finally {
      db.close();
    }
  }
}
