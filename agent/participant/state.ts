import type Database from "better-sqlite3";
import type { EvidenceReading } from "../../protocol/evidence.js";
import type { AgentView } from "../../protocol/messages/account-view.js";
import type { TxResultBody } from "../../protocol/messages/downlink.js";
import type { Announcement, Fill, OrderBody } from "../../protocol/messages/trading.js";
import type { MeterReading } from "../meters/types.js";
import type { LoanRecord } from "./credit.js";

/**
 * The agent's trading state, in its own tables of the agent's SQLite file (created here, prefixed `tp_`).
 * Whatever marks a message as sent is written in the same transaction as the message's outbox row
 * (AgentStore.appendMessages), so after a kill -9 a message is either sent-and-recorded or neither.
 */
export class TradingState {
  private readonly db: Database.Database;
  private readonly q: ReturnType<TradingState["prepare"]>;

  constructor(db: Database.Database) {
    this.db = db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS tp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tp_wallets (address TEXT PRIMARY KEY, seq INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS tp_orders (interval INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
        side TEXT NOT NULL, energy_wh INTEGER NOT NULL, price INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tp_summaries (interval INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
        body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tp_fills (trade_id TEXT PRIMARY KEY, side TEXT NOT NULL,
        interval INTEGER NOT NULL, energy_wh INTEGER NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL,
        confirm_seq INTEGER);
      CREATE TABLE IF NOT EXISTS tp_results (tx_id TEXT PRIMARY KEY, ok INTEGER NOT NULL, code TEXT,
        message TEXT, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS tp_loans (request_seq INTEGER PRIMARY KEY, record TEXT NOT NULL);
      -- interval energy is read by time on every tick; the readings table grows for months
      CREATE INDEX IF NOT EXISTS tp_readings_ts ON readings (ts);
    `);
    this.q = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM tp_meta WHERE key = ?"),
      setMeta: db.prepare<[string, string]>("INSERT OR REPLACE INTO tp_meta (key, value) VALUES (?, ?)"),
      wallets: db.prepare<[], { address: string }>("SELECT address FROM tp_wallets"),
      addWallet: db.prepare("INSERT OR IGNORE INTO tp_wallets (address, seq) VALUES (?, ?)"),
      orderedSince: db.prepare<[number], { interval: number }>(
        "SELECT interval FROM tp_orders WHERE interval >= ?",
      ),
      addOrder: db.prepare(
        "INSERT OR IGNORE INTO tp_orders (interval, seq, side, energy_wh, price, body) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      summarisedSince: db.prepare<[number], { interval: number }>(
        "SELECT interval FROM tp_summaries WHERE interval >= ?",
      ),
      addSummary: db.prepare("INSERT OR IGNORE INTO tp_summaries (interval, seq, body) VALUES (?, ?, ?)"),
      addFill: db.prepare(
        "INSERT OR IGNORE INTO tp_fills (trade_id, side, interval, energy_wh, body, at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      unconfirmedBuys: db.prepare<[number], { body: string }>(
        "SELECT body FROM tp_fills WHERE side = 'buy' AND confirm_seq IS NULL AND interval <= ? ORDER BY interval, trade_id",
      ),
      markConfirmed: db.prepare<[number, string]>("UPDATE tp_fills SET confirm_seq = ? WHERE trade_id = ?"),
      fills: db.prepare<[], { body: string }>("SELECT body FROM tp_fills ORDER BY interval, trade_id"),
      addResult: db.prepare(
        "INSERT OR REPLACE INTO tp_results (tx_id, ok, code, message, at) VALUES (?, ?, ?, ?, ?)",
      ),
      loan: db.prepare<[], { record: string }>(
        "SELECT record FROM tp_loans ORDER BY request_seq DESC LIMIT 1",
      ),
      putLoan: db.prepare("INSERT OR REPLACE INTO tp_loans (request_seq, record) VALUES (?, ?)"),
      readings: db.prepare<[number, number], MeterReading>(
        "SELECT meter, ts, import_wh AS importWh, export_wh AS exportWh, power_w AS powerW FROM readings WHERE ts > ? AND ts <= ? ORDER BY ts",
      ),
      evidence: db.prepare<
        [number, number],
        { seq: number; meter: string; ts: number; importWh: number; exportWh: number; payload: string }
      >(
        "SELECT r.seq, r.meter, r.ts, r.import_wh AS importWh, r.export_wh AS exportWh, e.payload FROM readings r JOIN reading_envelopes e ON e.seq = r.seq WHERE r.ts >= ? AND r.ts <= ? AND r.seq NOT IN (SELECT seq FROM dead) ORDER BY r.ts, r.seq",
      ),
      notHeldBy: db.prepare<[number, number, string], { seq: number }>(
        "SELECT r.seq FROM readings r JOIN reading_envelopes e ON e.seq = r.seq WHERE r.ts >= ? AND r.ts <= ? AND r.seq NOT IN (SELECT seq FROM dead) AND r.seq NOT IN (SELECT seq FROM outbox) AND NOT EXISTS (SELECT 1 FROM reading_receipts x WHERE x.seq = r.seq AND x.aggregator = ?) ORDER BY r.seq",
      ),
      summariesInFlight: db.prepare<[], { interval: number }>(
        "SELECT s.interval FROM tp_summaries s JOIN outbox o ON o.seq = s.seq ORDER BY s.interval",
      ),
      unreceipted: db.prepare<[number, number], { n: number }>(
        "SELECT count(*) AS n FROM readings r JOIN outbox o ON o.seq = r.seq WHERE r.ts >= ? AND r.ts <= ?",
      ),
      lastBefore: db.prepare<[number, number], MeterReading>(
        "SELECT meter, max(ts) AS ts, import_wh AS importWh, export_wh AS exportWh, power_w AS powerW FROM readings WHERE ts > ? AND ts <= ? GROUP BY meter",
      ),
    };
  }

  meta<T>(key: string): T | null {
    const v = this.q.getMeta.get(key)?.value;
    return v === undefined ? null : (JSON.parse(v) as T);
  }

  setMeta(key: string, value: unknown): void {
    this.q.setMeta.run(key, JSON.stringify(value));
  }

  registeredWallets(): Set<string> {
    return new Set(this.q.wallets.all().map((r) => r.address));
  }

  walletRegistered(address: string, seq: number): void {
    this.q.addWallet.run(address, seq);
  }

  orderedSince(interval: number): Set<number> {
    return new Set(this.q.orderedSince.all(interval).map((r) => r.interval));
  }

  orderPlaced(order: OrderBody, seq: number): void {
    this.q.addOrder.run(
      order.interval,
      seq,
      order.side,
      order.energyWh,
      order.limitPriceMcPerKwh,
      JSON.stringify(order),
    );
  }

  summarisedSince(interval: number): Set<number> {
    return new Set(this.q.summarisedSince.all(interval).map((r) => r.interval));
  }

  summarySent(interval: number, seq: number, body: unknown): void {
    this.q.addSummary.run(interval, seq, JSON.stringify(body));
  }

  /** Returns false for a fill already stored (the aggregator may send it again). */
  addFill(fill: Fill, at: number): boolean {
    return (
      this.q.addFill.run(fill.tradeId, fill.side, fill.interval, fill.energyWh, JSON.stringify(fill), at)
        .changes > 0
    );
  }

  unconfirmedBuys(throughInterval: number): Fill[] {
    return this.q.unconfirmedBuys.all(throughInterval).map((r) => JSON.parse(r.body) as Fill);
  }

  confirmed(tradeId: string, seq: number): void {
    this.q.markConfirmed.run(seq, tradeId);
  }

  fills(): Fill[] {
    return this.q.fills.all().map((r) => JSON.parse(r.body) as Fill);
  }

  txResult(r: TxResultBody, at: number): void {
    this.q.addResult.run(r.txId, r.ok ? 1 : 0, r.code ?? null, r.message ?? null, at);
  }

  announce(): Announcement | null {
    return this.meta<Announcement>("announce");
  }

  /** the newest account view: when it arrived, its envelope's time, the view */
  view(): { at: number; ts?: number; view: AgentView } | null {
    return this.meta<{ at: number; ts?: number; view: AgentView }>("view");
  }

  loan(): LoanRecord | null {
    const r = this.q.loan.get();
    return r === undefined ? null : (JSON.parse(r.record) as LoanRecord);
  }

  putLoan(loan: LoanRecord): void {
    this.q.putLoan.run(loan.requestSeq, JSON.stringify(loan));
  }

  /**
   * Sent messages were re-signed under new sequence numbers (the aggregator held other content under
   * the old ones): what remembers a message by its number follows it, so that its ledger result
   * (`<agent>:<seq>`) is still recognised. Runs inside the agent store's transaction.
   */
  resequenced(moved: ReadonlyMap<number, number>): void {
    for (const [old, seq] of moved) {
      for (const table of ["tp_wallets", "tp_orders", "tp_summaries"])
        this.db.prepare(`UPDATE ${table} SET seq = ? WHERE seq = ?`).run(seq, old);
      this.db.prepare("UPDATE tp_fills SET confirm_seq = ? WHERE confirm_seq = ?").run(seq, old);
    }
    const loans = this.db.prepare<[], { record: string }>("SELECT record FROM tp_loans").all();
    for (const { record } of loans) {
      const loan = JSON.parse(record) as LoanRecord;
      const requestSeq = moved.get(loan.requestSeq);
      const repaySeq = loan.repaySeq === null ? undefined : moved.get(loan.repaySeq);
      if (requestSeq === undefined && repaySeq === undefined) continue;
      const next = {
        ...loan,
        requestSeq: requestSeq ?? loan.requestSeq,
        repaySeq: repaySeq ?? loan.repaySeq,
      };
      this.db.prepare("DELETE FROM tp_loans WHERE request_seq = ?").run(loan.requestSeq);
      this.putLoan(next);
    }
  }

  /**
   * The agent's own readings around an interval: per meter the last one at or before its start (looked
   * for within one interval's length before it: a meter silent longer starts from its first reading
   * inside), and those inside.
   */
  readingsFor(fromMs: number, toMs: number): MeterReading[] {
    return [...this.q.lastBefore.all(fromMs - (toMs - fromMs), fromMs), ...this.q.readings.all(fromMs, toMs)];
  }

  /** The agent's signed readings with reading time in [fromMs, toMs], for a summary's evidence. */
  evidenceReadings(fromMs: number, toMs: number): EvidenceReading[] {
    // a reading the aggregator refused for good (dead letter) is not evidence of anything
    return this.q.evidence
      .all(fromMs, toMs)
      .map(({ payload, ...r }) => ({ ...r, envelope: JSON.parse(payload) }));
  }

  /** Receipted readings with reading time in [fromMs, toMs] that `aggregator` has not receipted. */
  readingsNotHeldBy(fromMs: number, toMs: number, aggregator: string): number[] {
    return this.q.notHeldBy.all(fromMs, toMs, aggregator).map((r) => r.seq);
  }

  /** Intervals whose summary is still in the outbox (sent, not receipted yet). */
  summariesInFlight(): number[] {
    return this.q.summariesInFlight.all().map((r) => r.interval);
  }

  /** How many of the readings with reading time in [fromMs, toMs] await their receipt. */
  unreceiptedReadings(fromMs: number, toMs: number): number {
    return this.q.unreceipted.get(fromMs, toMs)!.n;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
