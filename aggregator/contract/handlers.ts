import {
  cancelTradeBodySchema,
  deliveryConfirmationBodySchema,
  disputeBodySchema,
  rulingBodySchema,
} from "../../protocol/messages/trading.js";
import { reject } from "../state/errors.js";
import { defineHandler, type TradingModule } from "../state/handler.js";
import type { Trade, TradingState } from "../state/types.js";
import { closeTrade } from "./close.js";
import { settleDueTx } from "./settle.js";

function getTrade(state: TradingState, id: string): Trade {
  const t = state.trades.get(id);
  if (!t) reject("UNKNOWN_TRADE", `no open trade ${id}`, { tradeId: id });
  return t;
}

function requireParty(t: Trade, agent: string): "buyer" | "seller" {
  if (agent === t.buyer) return "buyer";
  if (agent === t.seller) return "seller";
  return reject("NOT_TRADE_PARTY", `${agent} is not a party to trade ${t.id}`, { tradeId: t.id });
}

export const contractModule: TradingModule = {
  name: "contract",
  handlers: {
    "confirm-delivery": defineHandler({
      origin: "agent",
      schema: deliveryConfirmationBodySchema,
      apply(state, tx, ctx) {
        const t = getTrade(state, tx.body.tradeId);
        if (requireParty(t, tx.sender) !== "buyer")
          reject("NOT_TRADE_PARTY", "only the buyer confirms delivery");
        if (t.status !== "open") reject("TRADE_NOT_OPEN", `trade ${t.id} is ${t.status}`);
        if (t.confirmedWh !== null) reject("ALREADY_CONFIRMED", `trade ${t.id} is already confirmed`);
        if (ctx.time < t.interval * state.params.intervalMs)
          reject("TOO_EARLY", `delivery of trade ${t.id} has not started`);
        t.confirmedWh = Math.min(tx.body.receivedWh, t.energyWh);
        return [{ type: "delivery-confirmed", tradeId: t.id, receivedWh: t.confirmedWh }];
      },
    }),
    // calling off a matched deal forfeits the caller's deposit to the other side (HO-TRAD §3.2.3)
    "cancel-trade": defineHandler({
      origin: "agent",
      schema: cancelTradeBodySchema,
      apply(state, tx, ctx) {
        const t = getTrade(state, tx.body.tradeId);
        const role = requireParty(t, tx.sender);
        if (t.status !== "open") reject("TRADE_NOT_OPEN", `trade ${t.id} is ${t.status}`);
        const buyerQuits = role === "buyer";
        return [
          closeTrade(
            state,
            t,
            {
              paidWh: 0,
              buyerForfeitMc: buyerQuits ? t.depositMc : 0,
              sellerForfeitMc: buyerQuits ? 0 : t.depositMc,
              outcome: buyerQuits ? "cancelled-by-buyer" : "cancelled-by-seller",
            },
            ctx.time,
          ),
        ];
      },
    }),
    dispute: defineHandler({
      origin: "agent",
      schema: disputeBodySchema,
      apply(state, tx) {
        const t = getTrade(state, tx.body.tradeId);
        requireParty(t, tx.sender);
        if (t.status !== "open") reject("TRADE_NOT_OPEN", `trade ${t.id} is ${t.status}`);
        t.status = "disputed";
        t.dispute = { by: tx.sender, claimedWh: tx.body.claimedWh, reason: tx.body.reason };
        return [{ type: "trade-disputed", tradeId: t.id, by: tx.sender }];
      },
    }),
    ruling: defineHandler({
      origin: "authority",
      schema: rulingBodySchema,
      apply(state, tx, ctx) {
        const t = getTrade(state, tx.body.tradeId);
        if (t.status !== "disputed") reject("NOT_DISPUTED", `trade ${t.id} is not disputed`);
        const { deliveredWh, fault } = tx.body;
        return [
          closeTrade(
            state,
            t,
            {
              paidWh: deliveredWh,
              buyerForfeitMc: fault === "buyer" ? t.depositMc : 0,
              sellerForfeitMc: fault === "seller" ? t.depositMc : 0,
              outcome: "ruled",
              fault,
              rulingBy: tx.sender,
              note: tx.body.note,
            },
            ctx.time,
          ),
        ];
      },
    }),
    "settle-due": settleDueTx,
  },
};
