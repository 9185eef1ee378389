import type Database from "better-sqlite3";
import { type ReadingBody, readingBodySchema } from "../../protocol/messages/readings.js";
import { MeterEvidenceStore } from "./evidence.js";
import type { MessageHandler } from "./ingest.js";

/**
 * Stores signed readings, with the envelope kept verbatim so that anyone can re-verify them later. A
 * reading whose registers run backwards is refused (COUNTER_BACKWARDS, aggregator/ingest/evidence.ts).
 */
export function readingsHandler(
  db: Database.Database,
  maxAgeMs: number,
): MessageHandler<ReadingBody> & { evidence: MeterEvidenceStore } {
  db.exec(`CREATE TABLE IF NOT EXISTS readings (sender TEXT NOT NULL, seq INTEGER NOT NULL, meter TEXT NOT NULL,
    ts INTEGER NOT NULL, import_wh INTEGER NOT NULL, export_wh INTEGER NOT NULL, power_w REAL NOT NULL,
    envelope TEXT NOT NULL, PRIMARY KEY (sender, seq)) WITHOUT ROWID`);
  const insert = db.prepare(
    "INSERT INTO readings (sender, seq, meter, ts, import_wh, export_wh, power_w, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const evidence = new MeterEvidenceStore(db);
  return {
    evidence,
    maxAgeMs,
    parse: (body) => readingBodySchema.parse(body),
    store: (_db, env, b, raw) => {
      evidence.checkReading(env.from, env.seq, b);
      insert.run(env.from, env.seq, b.meter, b.ts, b.importWh, b.exportWh, b.powerW, raw);
    },
  };
}
