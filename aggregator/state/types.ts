import type { TradingParams } from "./config.js";

/** Reputation quantities are integers in parts per million (1.0 = 1 000 000), so hashing is exact. */
export interface Reputation {
  activity: number;
  reputation: number;
  active: number;
  beta: number;
  delta: number;
  /** direction of the last change of the active value, and how many changes in a row went that way */
  lastDir: -1 | 0 | 1;
  streak: number;
  /** block time of the last trade match, null before the first */
  lastActiveMs: number | null;
}

export interface Agent {
  id: string;
  /** the aggregator that registered the agent (its EAG): proof-of-flow is per home aggregator */
  home: string;
  /** in registration order; the first is where rewards are paid */
  wallets: string[];
  allocated: boolean;
  rep: Reputation;
  /** ids of this agent's open orders (few per agent, so scans stay cheap) */
  openOrders: string[];
  /** recent income from energy sales, one record per settling transaction, newest last, bounded */
  income: { time: number; amountMc: number }[];
}

export interface Wallet {
  address: string;
  owner: string;
  /** milli-coins owned, including frozen ones */
  balance: number;
  /** milli-coins locked for open orders and open trades */
  frozen: number;
}

export type Side = "buy" | "sell";

export interface Order {
  id: string;
  agent: string;
  wallet: string;
  side: Side;
  interval: number;
  energyWh: number;
  limitPriceMcPerKwh: number;
  /** frozen for this order: buyers payment at the limit plus deposit, sellers deposit at the price cap */
  reservedMc: number;
  /** position of the accepting transaction: "earlier order" in tie-breaks */
  seq: number;
}

export type TradeStatus = "open" | "disputed";

export interface Trade {
  id: string;
  interval: number;
  buyOrder: string;
  sellOrder: string;
  buyer: string;
  seller: string;
  buyerWallet: string;
  sellerWallet: string;
  energyWh: number;
  priceMcPerKwh: number;
  paymentMc: number;
  /** deposit of each side */
  depositMc: number;
  /** trade impact factors ξ (ppm) of buyer and seller, fixed at the match */
  xiBuyer: number;
  xiSeller: number;
  status: TradeStatus;
  confirmedWh: number | null;
  dispute: { by: string; claimedWh: number; reason: string } | null;
}

export interface IntervalState {
  cleared: boolean;
  settled: boolean;
  clearingPriceMcPerKwh: number | null;
}

export interface MeterSummary {
  importWh: number;
  exportWh: number;
}

export interface TradingState {
  params: TradingParams;
  /** aggregator ids allowed to send system transactions (allocation, mint, clearing, rulings, ...) */
  authorities: string[];
  /** total milli-coins in existence: changes only by mint and reward */
  supply: number;
  /** number of accepted transactions so far */
  seq: number;
  /** rolling hash over accepted transaction ids: the state-derived seed for the LA's random draws */
  digest: string;
  lastClearingPriceMcPerKwh: number | null;
  agents: Map<string, Agent>;
  wallets: Map<string, Wallet>;
  orders: Map<string, Order>;
  ordersByInterval: Map<number, Set<string>>;
  trades: Map<string, Trade>;
  tradesByInterval: Map<number, Set<string>>;
  intervals: Map<number, IntervalState>;
  /** per agent, per interval */
  meter: Map<string, Map<number, MeterSummary>>;
  /** proof-of-flow tally: per reward period, delivered Wh per seller agent */
  flow: Map<number, Map<string, number>>;
  /** `${period}/${aggregator}` of every reward period already paid */
  rewardsPaid: Set<string>;
  seenTx: Set<string>;
  /** agents barred from placing orders; maintained by the credit bank's transactions */
  blacklist: Set<string>;
  /** state of plug-in modules (e.g. the credit bank), keyed by module name */
  ext: Map<string, unknown>;
}

/** What an accepted transaction produced: one variant per event type (aggregator/state/events.ts). */
export type { TradingEvent } from "./events.js";
