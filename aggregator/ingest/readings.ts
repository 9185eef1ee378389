import type Database from "better-sqlite3";
import { type ReadingBody, readingBodySchema } from "../../protocol/messages/readings.js";
import { MeterEvidenceStore } from "./evidence.js";
import type { MessageHandler } from "./ingest.js";
import type { Refusal } from "./store.js";

interface Registers {
  ts: number;
  importWh: number;
  exportWh: number;
}

/**
 * Stores signed readings, with the envelope kept verbatim so that anyone can re-verify them later. A
 * meter's cumulative registers never run backwards: a reading whose import or export register is below
 * that of an earlier reading of the same meter (by the meter's time), or above that of a later one, is
 * refused for good as REGISTER_BACKWARDS. Readings may arrive in any order (an outbox resent after a
 * fail-over), so each is checked against its neighbours in time, not against the last one received.
 * Neighbours count within the meter's register epoch: a signed `meter.replace` starts a new one
 * (aggregator/ingest/evidence.ts), so a replaced meter's registers may start again from zero.
 */
export function readingsHandler(
  db: Database.Database,
  maxAgeMs: number,
): MessageHandler<ReadingBody> & { evidence: MeterEvidenceStore } {
  db.exec(`CREATE TABLE IF NOT EXISTS readings (sender TEXT NOT NULL, seq INTEGER NOT NULL, meter TEXT NOT NULL,
    ts INTEGER NOT NULL, import_wh INTEGER NOT NULL, export_wh INTEGER NOT NULL, power_w REAL NOT NULL,
    envelope TEXT NOT NULL, PRIMARY KEY (sender, seq)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS readings_by_meter_time ON readings (sender, meter, ts);`);
  const insert = db.prepare(
    "INSERT INTO readings (sender, seq, meter, ts, import_wh, export_wh, power_w, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const cols = "ts, import_wh AS importWh, export_wh AS exportWh";
  // neighbours within the meter's register epoch: a signed meter.replace starts a new one
  const before = db.prepare<[string, string, number, number], Registers>(
    `SELECT ${cols} FROM readings WHERE sender = ? AND meter = ? AND ts <= ? AND ts >= ? ORDER BY ts DESC LIMIT 1`,
  );
  const after = db.prepare<[string, string, number, number], Registers>(
    `SELECT ${cols} FROM readings WHERE sender = ? AND meter = ? AND ts >= ? AND ts < ? ORDER BY ts ASC LIMIT 1`,
  );
  const evidence = new MeterEvidenceStore(db);
  return {
    evidence,
    maxAgeMs,
    parse: (body) => readingBodySchema.parse(body),
    refuse: (_db, env, b) => {
      const { from, until } = evidence.epochOf(env.from, b.meter, b.ts);
      return registersBackwards(
        b,
        before.get(env.from, b.meter, b.ts, from),
        after.get(env.from, b.meter, b.ts, until),
      );
    },
    store: (_db, env, b, raw) => {
      insert.run(env.from, env.seq, b.meter, b.ts, b.importWh, b.exportWh, b.powerMilliW / 1000, raw);
    },
  };
}

/** The refusal of a reading whose registers do not lie between those of its neighbours in time. */
export function registersBackwards(
  r: ReadingBody,
  prev: Registers | undefined,
  next: Registers | undefined,
): Refusal | undefined {
  for (const reg of ["importWh", "exportWh"] as const) {
    if (prev !== undefined && r[reg] < prev[reg])
      return {
        code: "REGISTER_BACKWARDS",
        reason: `meter ${r.meter}: ${reg} ${r[reg]} at ${r.ts} is below ${prev[reg]} at ${prev.ts}`,
      };
    if (next !== undefined && r[reg] > next[reg])
      return {
        code: "REGISTER_BACKWARDS",
        reason: `meter ${r.meter}: ${reg} ${r[reg]} at ${r.ts} is above ${next[reg]} at ${next.ts}`,
      };
  }
  return undefined;
}
