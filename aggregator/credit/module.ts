import type { z } from "#zod";
import {
  creditGrantTxSchema,
  creditPayTxSchema,
  creditRepayTxSchema,
  creditSweepTxSchema,
  tokenRequestSchema,
} from "../../protocol/messages/credit.js";
import { defineHandler, type TradingModule, type TxHandler } from "../state/handler.js";
import type { TradingState } from "../state/types.js";
import type { CreditConfig } from "./config.js";
import { CreditError, type CreditErrorCode } from "./errors.js";
import { applyCreditTx } from "./handlers.js";
import type { CreditAccountsPort, CreditPorts, IncomeRecord } from "./ports.js";
import { type BankInfo, type CreditState, createCreditState } from "./state.js";

/**
 * The wiring of the credit bank into the trading state machine (aggregator/state): a TradingModule
 * whose handlers run the pure credit handlers over `state.ext.get("credit")`, with the accounts port
 * implemented over the trading state's wallets and the blacklist port over its blacklist set. This file
 * is the only place that knows the trading state's shape.
 */
export const CREDIT_MODULE = "credit";

export interface CreditModuleOptions {
  config: CreditConfig;
  /** the credit banks of the consortium: id → token key and wallet (genesis data, same on every replica) */
  banks: Record<string, BankInfo>;
  /**
   * Income from energy sales of an agent at or after `sinceMs`. The trading state keeps no settlement
   * history yet, so the caller supplies it (see docs/CREDIT.md, "Wiring").
   */
  incomeSince(state: TradingState, owner: string, sinceMs: number): readonly IncomeRecord[];
}

export function tradingAccounts(
  state: TradingState,
  incomeSince: CreditModuleOptions["incomeSince"],
): CreditAccountsPort {
  return {
    balance: (w) => {
      const wallet = state.wallets.get(w);
      return wallet === undefined ? 0 : wallet.balance - wallet.frozen;
    },
    ownerOf: (w) => state.wallets.get(w)?.owner,
    openWallet: (w, owner) => {
      if (state.wallets.has(w)) throw new Error(`wallet ${w} exists`);
      state.wallets.set(w, { address: w, owner, balance: 0, frozen: 0 });
    },
    transfer: (from, to, amountMc) => {
      const a = state.wallets.get(from);
      const b = state.wallets.get(to);
      if (!a || !b || a.balance - a.frozen < amountMc)
        throw new Error(`credit transfer ${from} → ${to} not covered`);
      a.balance -= amountMc;
      b.balance += amountMc;
    },
    incomeSince: (owner, since) => incomeSince(state, owner, since),
  };
}

export function creditModule(opts: CreditModuleOptions): TradingModule<CreditErrorCode> {
  const handler = (type: string, origin: "agent" | "authority", schema: z.ZodType): TxHandler =>
    defineHandler({
      origin,
      schema,
      apply(state, tx, ctx) {
        const credit = state.ext.get(CREDIT_MODULE) as CreditState | undefined;
        if (credit === undefined)
          throw new Error("credit module state missing: was the module registered at genesis?");
        const ports: CreditPorts = {
          accounts: tradingAccounts(state, opts.incomeSince),
          blacklist: { has: (o) => state.blacklist.has(o), add: (o) => void state.blacklist.add(o) },
        };
        const r = applyCreditTx(
          credit,
          type,
          tx.body,
          { time: ctx.time, height: ctx.height, sender: tx.sender },
          { config: opts.config, ports },
        );
        // the state is untouched; the core returns the refusal with the credit bank's own code
        if (!r.ok) throw new CreditError(r.code, r.message, { module: CREDIT_MODULE });
        return r.events;
      },
    });
  return {
    name: CREDIT_MODULE,
    handlers: {
      "credit.request": handler("credit.request", "agent", tokenRequestSchema),
      "credit.grant": handler("credit.grant", "authority", creditGrantTxSchema),
      "credit.pay": handler("credit.pay", "authority", creditPayTxSchema),
      "credit.repay": handler("credit.repay", "agent", creditRepayTxSchema),
      "credit.sweep": handler("credit.sweep", "authority", creditSweepTxSchema),
    },
    refusal: (e) => (e instanceof CreditError ? { code: e.code, message: e.message } : undefined),
    init: () => createCreditState(opts.banks),
    // the credit state is plain JSON already; copies keep snapshots independent of the live state
    snapshot: (ext) => JSON.parse(JSON.stringify(ext)),
    restore: (snap) => JSON.parse(JSON.stringify(snap)) as CreditState,
  };
}
