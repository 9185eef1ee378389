import type { OrderBody } from "../../protocol/messages/trading.js";
import type { Tx } from "./handler.js";

/**
 * Typed constructors for ledger transactions, for the aggregator process (which wraps verified agent
 * messages), tests and benchmarks. `id` must be unique in the ledger; for agent messages use
 * `${sender}:${envelope seq}` so a replayed envelope is also a replayed transaction.
 */
export const txs = {
  registerWallet: (id: string, agent: string, wallet: string): Tx => ({
    id,
    type: "register-wallet",
    sender: agent,
    body: { wallet },
  }),
  allocate: (id: string, authority: string, wallet: string): Tx => ({
    id,
    type: "allocate",
    sender: authority,
    body: { wallet },
  }),
  mint: (id: string, authority: string, wallet: string, amountMc: number, reason = "mint"): Tx => ({
    id,
    type: "mint",
    sender: authority,
    body: { wallet, amountMc, reason },
  }),
  /** A summary whose evidence is two readings of one meter, 0 and then the given registers. */
  meterSummary: (id: string, agent: string, interval: number, importWh: number, exportWh: number): Tx => ({
    id,
    type: "meter-summary",
    sender: agent,
    body: {
      interval,
      importWh,
      exportWh,
      readings: 2,
      meters: [
        {
          meter: "m1",
          count: 2,
          root: "0".repeat(64),
          first: { seq: 2 * interval, ts: interval, importWh: 0, exportWh: 0 },
          last: { seq: 2 * interval + 1, ts: interval + 1, importWh, exportWh },
        },
      ],
    },
  }),
  placeOrder: (id: string, agent: string, body: OrderBody): Tx => ({
    id,
    type: "place-order",
    sender: agent,
    body,
  }),
  cancelOrder: (id: string, agent: string, orderId: string): Tx => ({
    id,
    type: "cancel-order",
    sender: agent,
    body: { orderId },
  }),
  clear: (id: string, authority: string, interval: number): Tx => ({
    id,
    type: "clear-interval",
    sender: authority,
    body: { interval },
  }),
  settle: (id: string, authority: string, interval: number): Tx => ({
    id,
    type: "settle-due",
    sender: authority,
    body: { interval },
  }),
  confirm: (id: string, agent: string, tradeId: string, receivedWh: number): Tx => ({
    id,
    type: "confirm-delivery",
    sender: agent,
    body: { tradeId, receivedWh },
  }),
  cancelTrade: (id: string, agent: string, tradeId: string): Tx => ({
    id,
    type: "cancel-trade",
    sender: agent,
    body: { tradeId },
  }),
  dispute: (id: string, agent: string, tradeId: string, claimedWh: number, reason: string): Tx => ({
    id,
    type: "dispute",
    sender: agent,
    body: { tradeId, claimedWh, reason },
  }),
  ruling: (
    id: string,
    authority: string,
    tradeId: string,
    deliveredWh: number,
    fault: "none" | "seller" | "buyer",
  ): Tx => ({ id, type: "ruling", sender: authority, body: { tradeId, deliveredWh, fault, note: "" } }),
  reward: (id: string, authority: string, period: number): Tx => ({
    id,
    type: "reward-period",
    sender: authority,
    body: { period },
  }),
};

/** An order body with a deposit authorisation covering whatever the rules may freeze. */
export function orderBody(
  wallet: string,
  side: "buy" | "sell",
  interval: number,
  energyWh: number,
  limitPriceMcPerKwh: number,
  maxDepositMc = Number.MAX_SAFE_INTEGER,
): OrderBody {
  return {
    wallet,
    side,
    interval,
    energyWh,
    limitPriceMcPerKwh,
    deposit: { wallet, interval, maxDepositMc },
  };
}
