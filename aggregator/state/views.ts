import type { AgentView } from "../../protocol/messages/account-view.js";
import type { Announcement } from "../../protocol/messages/trading.js";
import { announceInterval } from "../market/announce.js";
import type { Trade, TradingState } from "./types.js";

export type { AgentView };

/**
 * Read-only views for status pages and `gridlet agent status`: what one agent may see about itself
 * (its shape is the shared contract protocol/messages/account-view.ts). Pure functions of the state.
 */

export function agentView(state: TradingState, agent: string): AgentView | null {
  const a = state.agents.get(agent);
  if (!a) return null;
  const trades: Trade[] = [];
  for (const t of state.trades.values()) if (t.buyer === agent || t.seller === agent) trades.push({ ...t });
  trades.sort((x, y) => (x.id < y.id ? -1 : 1));
  return {
    agent,
    wallets: a.wallets.map((addr) => {
      const w = state.wallets.get(addr)!;
      return { address: addr, balanceMc: w.balance, frozenMc: w.frozen, availableMc: w.balance - w.frozen };
    }),
    openOrders: a.openOrders.map((id) => ({ ...state.orders.get(id)! })),
    openTrades: trades,
    reputation: { ...a.rep },
    blacklisted: state.blacklist.has(agent),
  };
}

export interface MarketView {
  supplyMc: number;
  agents: number;
  openOrders: number;
  openTrades: number;
  lastClearingPriceMcPerKwh: number | null;
  next: Announcement;
}

export function marketView(state: TradingState, timeMs: number): MarketView {
  const next = Math.floor(timeMs / state.params.intervalMs) + 1;
  return {
    supplyMc: state.supply,
    agents: state.agents.size,
    openOrders: state.orders.size,
    openTrades: state.trades.size,
    lastClearingPriceMcPerKwh: state.lastClearingPriceMcPerKwh,
    next: announceInterval(state, next),
  };
}
