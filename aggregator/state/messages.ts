import type { z } from "#zod";
import { creditRepayTxSchema, creditRequestTxSchema } from "../../protocol/messages/credit.js";
import { MSG_CREDIT_REPAY, MSG_CREDIT_REQUEST } from "../../protocol/messages/downlink.js";
import {
  cancelOrderBodySchema,
  cancelTradeBodySchema,
  deliveryConfirmationBodySchema,
  disputeBodySchema,
  type Fill,
  MSG_CANCEL_ORDER,
  MSG_CANCEL_TRADE,
  MSG_CONFIRM_DELIVERY,
  MSG_DISPUTE,
  MSG_METER_SUMMARY,
  MSG_ORDER,
  MSG_REGISTER_WALLET,
  meterSummaryBodySchema,
  orderBodySchema,
  registerWalletBodySchema,
} from "../../protocol/messages/trading.js";
import type { LedgerEvent } from "./events.js";

/**
 * The seam between envelopes and the ledger: every envelope type the ledger carries, in one table that
 * ingest (aggregator/service/handlers.ts), the ledger machine and its envelope helpers
 * (aggregator/node/) all read; and which events go back to which agent as fills.
 */

/** an aggregator's system transaction; the body is the trading core's Tx, with `sender` = the signer */
export const MSG_SYS = "sys";
/** an agent's CA-signed certificate, presented by the agent's home aggregator */
export const MSG_IDENTITY_REGISTER = "identity.register";
/** the CA-signed revocation list, relayed by any aggregator */
export const MSG_CA_REVOCATIONS = "ca.revocations";

/**
 * How the ledger treats an envelope type. An agent's becomes the trading transaction `tx` with the
 * envelope's body (which must pass `body`: ingest checks it before the receipt, the core again); an
 * authority's is signed by a consortium member and handled by the ledger machine itself.
 */
export type LedgerMessage = { signer: "agent"; tx: string; body: z.ZodType } | { signer: "authority" };

const agent = (tx: string, body: z.ZodType): LedgerMessage => ({ signer: "agent", tx, body });
const authority: LedgerMessage = { signer: "authority" };

export const LEDGER_MESSAGES: Readonly<Record<string, LedgerMessage>> = {
  [MSG_REGISTER_WALLET]: agent("register-wallet", registerWalletBodySchema),
  [MSG_ORDER]: agent("place-order", orderBodySchema),
  [MSG_CANCEL_ORDER]: agent("cancel-order", cancelOrderBodySchema),
  [MSG_METER_SUMMARY]: agent("meter-summary", meterSummaryBodySchema),
  [MSG_CONFIRM_DELIVERY]: agent("confirm-delivery", deliveryConfirmationBodySchema),
  [MSG_CANCEL_TRADE]: agent("cancel-trade", cancelTradeBodySchema),
  [MSG_DISPUTE]: agent("dispute", disputeBodySchema),
  // the credit bank's transactions an agent signs itself (the bank's grants and payments travel as `sys`)
  [MSG_CREDIT_REQUEST]: agent("credit.request", creditRequestTxSchema),
  [MSG_CREDIT_REPAY]: agent("credit.repay", creditRepayTxSchema),
  [MSG_SYS]: authority,
  [MSG_IDENTITY_REGISTER]: authority,
  [MSG_CA_REVOCATIONS]: authority,
};

/** The table's entry for an envelope type; undefined for a type the ledger does not carry. */
export function ledgerMessage(type: string): LedgerMessage | undefined {
  return Object.hasOwn(LEDGER_MESSAGES, type) ? LEDGER_MESSAGES[type] : undefined;
}

/** The agent-signed envelope types, with the transaction each becomes and its body schema. */
export function agentLedgerMessages(): [type: string, m: { tx: string; body: z.ZodType }][] {
  const out: [string, { tx: string; body: z.ZodType }][] = [];
  for (const [type, m] of Object.entries(LEDGER_MESSAGES)) if (m.signer === "agent") out.push([type, m]);
  return out;
}

/** The fills to send after a clearing: one per party of every match, addressed to its agent. */
export function fillsFromEvents(events: readonly LedgerEvent[]): { to: string; fill: Fill }[] {
  const out: { to: string; fill: Fill }[] = [];
  for (const e of events) {
    if (e.type !== "matched") continue;
    const { tradeId, interval, energyWh, priceMcPerKwh, paymentMc, depositMc } = e;
    const common = { tradeId, interval, energyWh, priceMcPerKwh, paymentMc, depositMc };
    out.push({ to: e.buyer, fill: { ...common, orderId: e.buyOrder, side: "buy" } });
    out.push({ to: e.seller, fill: { ...common, orderId: e.sellOrder, side: "sell" } });
  }
  return out;
}
