import {
  type Fill,
  MSG_CANCEL_ORDER,
  MSG_CANCEL_TRADE,
  MSG_CONFIRM_DELIVERY,
  MSG_DISPUTE,
  MSG_METER_SUMMARY,
  MSG_ORDER,
  MSG_REGISTER_WALLET,
} from "../../protocol/messages/trading.js";
import type { LedgerEvent } from "./events.js";
import type { Tx } from "./handler.js";

/**
 * The seam between ingest and the trading core: which verified agent envelope becomes which ledger
 * transaction, and which events go back to which agent as fills.
 */
export const TX_TYPE_OF_MESSAGE: Readonly<Record<string, string>> = {
  [MSG_REGISTER_WALLET]: "register-wallet",
  [MSG_ORDER]: "place-order",
  [MSG_CANCEL_ORDER]: "cancel-order",
  [MSG_METER_SUMMARY]: "meter-summary",
  [MSG_CONFIRM_DELIVERY]: "confirm-delivery",
  [MSG_CANCEL_TRADE]: "cancel-trade",
  [MSG_DISPUTE]: "dispute",
};

/**
 * The transaction for a verified envelope, or null if the type is not a trading message. The id is
 * `${from}:${seq}`, so a re-delivered envelope is a REPLAY in the ledger too. The body is validated by the
 * core (MALFORMED), not here, so that the log records every attempt the same way on every replica.
 */
export function txFromEnvelope(env: { type: string; from: string; seq: number; body: unknown }): Tx | null {
  const type = TX_TYPE_OF_MESSAGE[env.type];
  if (!type) return null;
  return { id: `${env.from}:${env.seq}`, type, sender: env.from, body: env.body };
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
