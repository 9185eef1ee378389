import Database from "better-sqlite3";
import type { AgentView } from "../../protocol/messages/account-view.js";
import type { Fill } from "../../protocol/messages/trading.js";
import type { LoanRecord } from "./credit.js";
import { ParticipantError } from "./errors.js";

export interface TradingStatus {
  /** when the last account view arrived; null before the first */
  viewAt: number | null;
  balanceMc: number | null;
  availableMc: number | null;
  wallets: AgentView["wallets"];
  openOrders: AgentView["openOrders"];
  openTrades: AgentView["openTrades"];
  reputation: AgentView["reputation"] | null;
  blacklisted: boolean | null;
  fills: Fill[];
  ordersSent: number;
  summariesSent: number;
  confirmationsSent: number;
  refusals: { txId: string; code: string | null; message: string | null }[];
  loan: { status: LoanRecord["status"]; loanId: string | null; amountMc: number | null } | null;
}

/**
 * The trading part of `gridlet agent status`, read-only from the agent's store while the agent runs:
 * balances, orders, trades and reputation as the last `account.view` showed them, plus what was sent.
 */
export function readTradingStatus(path: string): TradingStatus | null {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new ParticipantError(
      "STATUS_UNAVAILABLE",
      `cannot open agent store ${path}: ${(e as Error).message}`,
    );
  }
  try {
    const has = db
      .prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'tp_meta'")
      .get()!.n;
    if (has === 0) return null;
    const meta = (k: string) => {
      const v = db
        .prepare<[string], { value: string }>("SELECT value FROM tp_meta WHERE key = ?")
        .get(k)?.value;
      return v === undefined ? null : JSON.parse(v);
    };
    const count = (sql: string) => db.prepare<[], { n: number }>(sql).get()!.n;
    const v = meta("view") as { at: number; view: AgentView } | null;
    const loanRow = db
      .prepare<[], { record: string }>("SELECT record FROM tp_loans ORDER BY request_seq DESC LIMIT 1")
      .get();
    const loan = loanRow === undefined ? null : (JSON.parse(loanRow.record) as LoanRecord);
    const wallets = v?.view.wallets ?? [];
    return {
      viewAt: v?.at ?? null,
      balanceMc: v === null ? null : wallets.reduce((s, w) => s + w.balanceMc, 0),
      availableMc: v === null ? null : wallets.reduce((s, w) => s + w.availableMc, 0),
      wallets,
      openOrders: v?.view.openOrders ?? [],
      openTrades: v?.view.openTrades ?? [],
      reputation: v?.view.reputation ?? null,
      blacklisted: v?.view.blacklisted ?? null,
      fills: db
        .prepare<[], { body: string }>("SELECT body FROM tp_fills ORDER BY interval, trade_id")
        .all()
        .map((r) => JSON.parse(r.body) as Fill),
      ordersSent: count("SELECT count(*) AS n FROM tp_orders"),
      summariesSent: count("SELECT count(*) AS n FROM tp_summaries"),
      confirmationsSent: count("SELECT count(*) AS n FROM tp_fills WHERE confirm_seq IS NOT NULL"),
      refusals: db
        .prepare<[], { txId: string; code: string | null; message: string | null }>(
          "SELECT tx_id AS txId, code, message FROM tp_results WHERE ok = 0 ORDER BY at DESC LIMIT 20",
        )
        .all(),
      loan:
        loan === null
          ? null
          : { status: loan.status, loanId: loan.loanId, amountMc: loan.token?.amount ?? null },
    };
  } finally {
    db.close();
  }
}
