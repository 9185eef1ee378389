import Database from "better-sqlite3";
import { seqFloor } from "../../protocol/sequence.js";
import { openStore } from "../../protocol/store-file.js";
import type { MeterReading } from "../meters/types.js";
import { StoreError } from "./errors.js";

/**
 * The agent's durable state in one SQLite file: every reading, the outbox of signed envelopes not yet
 * receipted by the aggregator, and the per-sender sequence counter. WAL with synchronous=NORMAL: a
 * power cut may lose the last transaction but never corrupts the file, and a crash of the process
 * (kill -9) loses nothing committed. Readings are written in one transaction per tick, so an SD card
 * sees one fsync per tick rather than one per meter.
 */

export interface OutboxRow {
  seq: number;
  type: string;
  payload: string;
}

export interface StoreCounters {
  readingsStored: number;
  outboxDepth: number;
  deadLetters: number;
  nextSeq: number;
  lastReceiptAt: number | null;
  lastReadingAt: number | null;
}

/** Builds the signed, encoded envelope for a reading once its sequence number is known. */
export type ReadingSigner = (reading: MeterReading, seq: number) => { type: string; payload: string };

const SCHEMA_VERSION = 1;

export class AgentStore {
  private readonly db: Database.Database;
  private readonly closeStore: () => void;
  private readonly agentId: string;
  private readonly stmts: ReturnType<AgentStore["prepare"]>;

  /**
   * `seqFloor` is the lowest sequence number the store may hand out from now on: at every open the
   * counter is raised to it. Taken from the clock (protocol/sequence.ts: ms × 1000), it means that an
   * agent whose store was wiped, restored from a backup or lost its WAL still never reuses a sequence
   * number the aggregator has already seen, as long as it sent fewer than 1000 messages per millisecond
   * on average. Gaps in an agent's sequence therefore appear at restarts only.
   */
  constructor(path: string, agentId: string, seqFloor: () => number) {
    const store = openStore(path, "agent store");
    this.db = store.db;
    this.closeStore = store.close;
    this.agentId = agentId;
    try {
      this.migrate(seqFloor);
      this.stmts = this.prepare();
    } catch (e) {
      store.close();
      throw e;
    }
  }

  private migrate(seqFloor: () => number): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS readings (
        seq INTEGER PRIMARY KEY, meter TEXT NOT NULL, ts INTEGER NOT NULL,
        import_wh INTEGER NOT NULL, export_wh INTEGER NOT NULL, power_w REAL NOT NULL, extra TEXT);
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL);
      -- the signed envelope of every reading, kept after its receipt: a meter summary commits to them
      CREATE TABLE IF NOT EXISTS reading_envelopes (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);
      -- meters replaced (signed meter.replace sent): from ts on, the meter's registers start again
      CREATE TABLE IF NOT EXISTS meter_replacements (meter TEXT NOT NULL, ts INTEGER NOT NULL,
        seq INTEGER NOT NULL, PRIMARY KEY (meter, ts)) WITHOUT ROWID;
      -- the aggregators that receipted each reading (a summary is checked against one aggregator's)
      CREATE TABLE IF NOT EXISTS reading_receipts (seq INTEGER NOT NULL, aggregator TEXT NOT NULL,
        PRIMARY KEY (seq, aggregator)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS dead (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL,
        code TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
    `);
    const get = this.db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?");
    const version = get.get("schema")?.value;
    if (version !== undefined && Number(version) !== SCHEMA_VERSION) {
      throw new StoreError(
        "STORE_SCHEMA",
        `agent store has schema ${version}, this agent reads ${SCHEMA_VERSION}`,
      );
    }
    const owner = get.get("agent")?.value;
    if (owner !== undefined && owner !== this.agentId) {
      throw new StoreError(
        "STORE_IDENTITY_MISMATCH",
        `agent store belongs to "${owner}", not "${this.agentId}"; use a store per identity`,
      );
    }
    const put = this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
    const set = this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    this.db.transaction(() => {
      put.run("schema", String(SCHEMA_VERSION));
      put.run("agent", this.agentId);
      const stored = get.get("next_seq")?.value;
      set.run("next_seq", String(Math.max(stored === undefined ? 0 : Number(stored), seqFloor())));
    })();
  }

  private prepare() {
    return {
      getMeta: this.db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: this.db.prepare<[string, string]>("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      insertReading: this.db.prepare(
        "INSERT INTO readings (seq, meter, ts, import_wh, export_wh, power_w, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      insertOutbox: this.db.prepare("INSERT INTO outbox (seq, type, payload) VALUES (?, ?, ?)"),
      insertReadingEnvelope: this.db.prepare("INSERT INTO reading_envelopes (seq, payload) VALUES (?, ?)"),
      dropReadingEnvelope: this.db.prepare<[number]>("DELETE FROM reading_envelopes WHERE seq = ?"),
      recordReadingReceipt: this.db.prepare<[string, number]>(
        "INSERT OR IGNORE INTO reading_receipts (seq, aggregator) SELECT seq, ? FROM reading_envelopes WHERE seq = ?",
      ),
      resendReading: this.db.prepare<[number]>(
        "INSERT OR IGNORE INTO outbox (seq, type, payload) SELECT seq, 'reading', payload FROM reading_envelopes WHERE seq = ?",
      ),
      outboxAfter: this.db.prepare<[number, number], OutboxRow>(
        "SELECT seq, type, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
      ),
      deleteOutbox: this.db.prepare<[number]>("DELETE FROM outbox WHERE seq = ?"),
      moveReading: this.db.prepare<[number, number]>("UPDATE readings SET seq = ? WHERE seq = ?"),
      outboxRow: this.db.prepare<[number], OutboxRow>("SELECT seq, type, payload FROM outbox WHERE seq = ?"),
      insertDead: this.db.prepare(
        "INSERT OR REPLACE INTO dead (seq, type, payload, code, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      countReadings: this.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM readings"),
      countOutbox: this.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox"),
      countDead: this.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM dead"),
      lastReading: this.db.prepare<[], { ts: number | null }>("SELECT max(ts) AS ts FROM readings"),
      oldestReadings: this.db.prepare<[number, number], { seq: number; ts: number }>(
        "SELECT seq, ts FROM readings WHERE seq > ? ORDER BY seq LIMIT ?",
      ),
      deleteReading: this.db.prepare<[number]>("DELETE FROM readings WHERE seq = ?"),
      deleteReadingEnvelope: this.db.prepare<[number]>("DELETE FROM reading_envelopes WHERE seq = ?"),
    };
  }

  private nextSeq(): number {
    return Number(this.stmts.getMeta.get("next_seq")!.value);
  }

  /**
   * Assigns sequence numbers, stores the readings and their signed envelopes, and advances the counter,
   * all in one transaction: after a crash either all of a tick is there with its numbers consumed, or
   * none of it is and the numbers are free.
   */
  appendReadings(readings: readonly MeterReading[], sign: ReadingSigner): OutboxRow[] {
    if (readings.length === 0) return [];
    return this.db.transaction(() => {
      let seq = this.nextSeq();
      const rows: OutboxRow[] = [];
      for (const r of readings) {
        const extra: Record<string, number> = {};
        if (r.voltageV !== undefined) extra.voltageV = r.voltageV;
        if (r.currentA !== undefined) extra.currentA = r.currentA;
        if (r.frequencyHz !== undefined) extra.frequencyHz = r.frequencyHz;
        const signed = sign(r, seq);
        this.stmts.insertReading.run(
          seq,
          r.meter,
          r.ts,
          r.importWh,
          r.exportWh,
          r.powerW,
          Object.keys(extra).length > 0 ? JSON.stringify(extra) : null,
        );
        this.stmts.insertOutbox.run(seq, signed.type, signed.payload);
        this.stmts.insertReadingEnvelope.run(seq, signed.payload);
        rows.push({ seq, ...signed });
        seq += 1;
      }
      this.stmts.setMeta.run("next_seq", String(seq));
      return rows;
    })();
  }

  /**
   * Numbers, signs and stores other messages (orders, confirmations, credit) in the outbox in one
   * transaction, on the same counter as readings; `also` runs inside it so that a caller's own tables in
   * this file (agent/participant) change together with the outbox or not at all. Unlike readings, these
   * commit with synchronous=FULL: an order or a repayment is a promise about money, and an agent that
   * forgot one after a power cut could make it twice. They are few (a handful per interval).
   */
  appendMessages<T>(
    items: readonly T[],
    sign: (item: T, seq: number) => { type: string; payload: string },
    also?: (rows: OutboxRow[]) => void,
  ): OutboxRow[] {
    this.db.pragma("synchronous = FULL");
    try {
      return this.appendMessagesNow(items, sign, also);
    } finally {
      this.db.pragma("synchronous = NORMAL");
    }
  }

  private appendMessagesNow<T>(
    items: readonly T[],
    sign: (item: T, seq: number) => { type: string; payload: string },
    also?: (rows: OutboxRow[]) => void,
  ): OutboxRow[] {
    return this.db.transaction(() => {
      let seq = this.nextSeq();
      const rows: OutboxRow[] = [];
      for (const item of items) {
        const signed = sign(item, seq);
        this.stmts.insertOutbox.run(seq, signed.type, signed.payload);
        rows.push({ seq, ...signed });
        seq += 1;
      }
      this.stmts.setMeta.run("next_seq", String(seq));
      also?.(rows);
      return rows;
    })();
  }

  /** The SQLite handle, for modules that keep their own tables in the agent's file. */
  get database(): Database.Database {
    return this.db;
  }

  /**
   * The sequence number of a login token: from its own counter (the broker keeps login sequences apart
   * from envelopes), above the last login and at least the clock's floor, so that a login never leaves
   * a gap in the envelopes' sequence.
   */
  nextLoginSeq(nowMs: number): number {
    return this.db.transaction(() => {
      const last = this.stmts.getMeta.get("login_seq")?.value;
      const seq = Math.max(last === undefined ? 0 : Number(last) + 1, seqFloor(nowMs));
      this.stmts.setMeta.run("login_seq", String(seq));
      return seq;
    })();
  }

  /**
   * The aggregator holds other content under these sequence numbers (EQUIVOCATION: this store was rolled
   * back, or its clock ran behind). Re-signs each listed envelope still in the outbox under a new number
   * above `highestSeq` (the highest the aggregator has stored from this agent), the floor at `nowMs` and
   * every number used here, moves its reading along, and raises the counter past them; `also` runs in
   * the same transaction with the map old → new (for tables that remember what they sent by number).
   * Returns that map; listed numbers no longer in the outbox are skipped.
   */
  resequence(
    seqs: readonly number[],
    highestSeq: number,
    nowMs: number,
    resign: (row: OutboxRow, seq: number) => { type: string; payload: string },
    also?: (moved: ReadonlyMap<number, number>) => void,
  ): Map<number, number> {
    return this.db.transaction(() => {
      let next = Math.max(this.nextSeq(), highestSeq + 1, seqFloor(nowMs));
      const moved = new Map<number, number>();
      for (const old of [...new Set(seqs)].sort((a, b) => a - b)) {
        const row = this.stmts.outboxRow.get(old);
        if (row === undefined) continue;
        const signed = resign(row, next);
        this.stmts.deleteOutbox.run(old);
        this.stmts.insertOutbox.run(next, signed.type, signed.payload);
        this.stmts.moveReading.run(next, old);
        // the reading's evidence is the envelope under its new number (what the aggregator will store)
        this.stmts.dropReadingEnvelope.run(old);
        if (row.type === "reading") this.stmts.insertReadingEnvelope.run(next, signed.payload);
        moved.set(old, next);
        next += 1;
      }
      this.stmts.setMeta.run("next_seq", String(next));
      if (moved.size > 0) also?.(moved);
      return moved;
    })();
  }

  /** Outbox rows with seq above `afterSeq`, oldest first. */
  outboxAfter(afterSeq: number, limit: number): OutboxRow[] {
    return this.stmts.outboxAfter.all(afterSeq, limit);
  }

  /** Records which aggregator receipted these envelopes, for those that are readings. */
  recordReadingReceipts(seqs: readonly number[], aggregator: string): void {
    this.db.transaction(() => {
      for (const s of seqs) this.stmts.recordReadingReceipt.run(aggregator, s);
    })();
  }

  /**
   * Puts already receipted readings back in the outbox under their own sequence numbers and signatures
   * (another aggregator needs them to check a meter summary; the one that has them receipts them again).
   */
  resendReadings(seqs: readonly number[]): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const s of seqs) n += this.stmts.resendReading.run(s).changes;
      return n;
    })();
  }

  /**
   * Records a meter replacement and puts its signed `meter.replace` in the outbox, in one transaction
   * (docs/PROTOCOL.md, "Metered evidence"). Returns the envelope's sequence number.
   */
  replaceMeter(
    meter: string,
    ts: number,
    reason: string,
    sign: (
      body: { meter: string; ts: number; reason: string },
      seq: number,
    ) => { type: string; payload: string },
  ): number {
    const [row] = this.appendMessages([{ meter, ts, reason }], sign, ([r]) => {
      this.db
        .prepare("INSERT OR REPLACE INTO meter_replacements (meter, ts, seq) VALUES (?, ?, ?)")
        .run(meter, ts, r.seq);
    });
    return row.seq;
  }

  /** The replacement times of each meter. */
  meterReplacements(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const r of this.db
      .prepare<[], { meter: string; ts: number }>("SELECT meter, ts FROM meter_replacements")
      .all())
      out.set(r.meter, [...(out.get(r.meter) ?? []), r.ts]);
    return out;
  }

  /** Removes receipted envelopes; returns how many were still in the outbox. */
  acknowledge(seqs: readonly number[], at: number): number {
    return this.db.transaction(() => {
      let removed = 0;
      for (const s of seqs) removed += this.stmts.deleteOutbox.run(s).changes;
      this.stmts.setMeta.run("last_receipt_at", String(at));
      return removed;
    })();
  }

  /** Moves envelopes the aggregator refused for good out of the outbox, keeping them for inspection. */
  deadLetter(entries: readonly { seq: number; code: string; reason: string }[], at: number): number {
    return this.db.transaction(() => {
      let moved = 0;
      for (const e of entries) {
        const row = this.stmts.outboxRow.get(e.seq);
        if (row === undefined) continue;
        this.stmts.insertDead.run(row.seq, row.type, row.payload, e.code, e.reason, at);
        this.stmts.deleteOutbox.run(row.seq);
        moved += 1;
      }
      return moved;
    })();
  }

  /**
   * Retention: deletes up to `maxRows` readings older than `cutoffTs`, with the copy of their signed
   * envelope, once the envelope has left the outbox (receipted by an aggregator, or refused for good and
   * kept in `dead`); returns how many. Readings are
   * walked oldest first by sequence number, which follows the clock, and the walk stops at the first one
   * not older than the cutoff, so a store with nothing to prune costs one row read. Readings still waiting
   * for their receipt are kept whatever their age.
   */
  pruneReceipted(cutoffTs: number, maxRows: number): number {
    return this.db.transaction(() => {
      let removed = 0;
      let after = -1;
      // unreceipted old readings (a long outage) are stepped over; this bounds the walk over them
      let examined = 0;
      while (removed < maxRows && examined < 10 * maxRows) {
        const rows = this.stmts.oldestReadings.all(after, 500);
        if (rows.length === 0) return removed;
        for (const r of rows) {
          if (r.ts >= cutoffTs) return removed;
          after = r.seq;
          examined += 1;
          if (this.stmts.outboxRow.get(r.seq) !== undefined) continue;
          this.stmts.deleteReading.run(r.seq);
          this.stmts.deleteReadingEnvelope.run(r.seq);
          if (++removed >= maxRows) return removed;
        }
      }
      return removed;
    })();
  }

  /** The outbox and dead-letter depths, without counting every stored reading (for each metrics scrape). */
  queueCounts(): { outboxDepth: number; deadLetters: number; lastReceiptAt: number | null } {
    const last = this.stmts.getMeta.get("last_receipt_at")?.value;
    return {
      outboxDepth: this.stmts.countOutbox.get()!.n,
      deadLetters: this.stmts.countDead.get()!.n,
      lastReceiptAt: last === undefined ? null : Number(last),
    };
  }

  counters(): StoreCounters {
    const last = this.stmts.getMeta.get("last_receipt_at")?.value;
    return {
      readingsStored: this.stmts.countReadings.get()!.n,
      outboxDepth: this.stmts.countOutbox.get()!.n,
      deadLetters: this.stmts.countDead.get()!.n,
      nextSeq: this.nextSeq(),
      lastReceiptAt: last === undefined ? null : Number(last),
      lastReadingAt: this.stmts.lastReading.get()!.ts,
    };
  }

  /** (seq, meter, ts, importWh) of every stored reading, for audits and tests. */
  readingKeys(): { seq: number; meter: string; ts: number; importWh: number }[] {
    return this.db
      .prepare<[], { seq: number; meter: string; ts: number; importWh: number }>(
        "SELECT seq, meter, ts, import_wh AS importWh FROM readings ORDER BY seq",
      )
      .all();
  }

  close(): void {
    this.closeStore();
  }
}

/** Opens a store read-only for `gridlet agent status` while the agent runs. */
export function readStoreCounters(path: string): StoreCounters {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new StoreError("STORE_OPEN_FAILED", `cannot open agent store ${path}: ${(e as Error).message}`, {
      path,
    });
  }
  try {
    const meta = (k: string) =>
      db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?").get(k)?.value;
    const count = (t: string) => db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${t}`).get()!.n;
    const last = meta("last_receipt_at");
    return {
      readingsStored: count("readings"),
      outboxDepth: count("outbox"),
      deadLetters: count("dead"),
      nextSeq: Number(meta("next_seq")),
      lastReceiptAt: last === undefined ? null : Number(last),
      lastReadingAt: db.prepare<[], { ts: number | null }>("SELECT max(ts) AS ts FROM readings").get()!.ts,
    };
  } finally {
    db.close();
  }
}
