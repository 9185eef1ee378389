/**
 * What an accepted ledger transaction produced, one variant per event type with its exact fields. The
 * process publishes them (fills go to their owners, encrypted) and refreshes the account views of the
 * agents they concern (`agentsOfEvent`). Events are not part of the replicated state or its hash.
 */

// --- accounts (aggregator/state/accounts.ts) and meter (aggregator/state/meter.ts)

export interface WalletRegisteredEvent {
  type: "wallet-registered";
  agent: string;
  wallet: string;
}

export interface AllocatedEvent {
  type: "allocated";
  wallet: string;
  amountMc: number;
}

export interface MintedEvent {
  type: "minted";
  wallet: string;
  amountMc: number;
  reason: string;
}

export interface MeterRecordedEvent {
  type: "meter-recorded";
  agent: string;
  interval: number;
}

// --- market (aggregator/market)

export interface OrderAcceptedEvent {
  type: "order-accepted";
  orderId: string;
  agent: string;
  reservedMc: number;
}

export interface OrderCancelledEvent {
  type: "order-cancelled";
  orderId: string;
}

export interface IntervalClearedEvent {
  type: "interval-cleared";
  interval: number;
  /** orders of the interval, matched or not */
  orders: number;
  trades: number;
  volumeWh: number;
  /** null when nothing matched */
  clearingPriceMcPerKwh: number | null;
}

// --- contract (aggregator/contract)

/** One per trade opened by a clearing; the process turns it into a fill for each party. */
export interface MatchedEvent {
  type: "matched";
  tradeId: string;
  interval: number;
  buyer: string;
  seller: string;
  buyOrder: string;
  sellOrder: string;
  energyWh: number;
  priceMcPerKwh: number;
  paymentMc: number;
  depositMc: number;
}

export interface DeliveryConfirmedEvent {
  type: "delivery-confirmed";
  tradeId: string;
  receivedWh: number;
}

export interface TradeDisputedEvent {
  type: "trade-disputed";
  tradeId: string;
  /** the party that disputed */
  by: string;
}

/** How a trade ended. */
export type Outcome =
  | "delivered"
  | "partial"
  | "seller-no-show"
  | "buyer-refused"
  | "cancelled-by-buyer"
  | "cancelled-by-seller"
  | "ruled";

/** Whom an aggregator's ruling on a disputed trade blames. */
export type Fault = "none" | "seller" | "buyer";

interface TradeClosing {
  type: "trade-closed";
  tradeId: string;
  paidWh: number;
  paidMc: number;
  buyerForfeitMc: number;
  sellerForfeitMc: number;
  buyer: string;
  seller: string;
}

/** A trade closed by settlement, by a party calling it off, or by a ruling (which adds who ruled what). */
export type TradeClosedEvent =
  | (TradeClosing & { outcome: Exclude<Outcome, "ruled"> })
  | (TradeClosing & { outcome: "ruled"; fault: Fault; rulingBy: string; note: string });

export interface IntervalSettledEvent {
  type: "interval-settled";
  interval: number;
  /** trades closed by this settlement (disputed ones wait for a ruling) */
  closed: number;
}

// --- rewards (aggregator/rewards/proof-of-flow.ts)

export interface RewardPaidEvent {
  type: "reward-paid";
  period: number;
  aggregator: string;
  agent: string;
  wallet: string;
  deliveredWh: number;
  amountMc: number;
}

export interface RewardNoneEvent {
  type: "reward-none";
  period: number;
  aggregator: string;
}

// --- credit bank (aggregator/credit/handlers.ts)

export interface CreditOfferedEvent {
  type: "credit.offered";
  loanId: string;
  bank: string;
  borrower: string;
  principal: number;
  interest: number;
  penaltyIfLate: number;
  alpha: number;
  beta: number;
}

export interface CreditGrantedEvent {
  type: "credit.granted";
  loanId: string;
  sharedWallet: string;
  amount: number;
}

export interface CreditPaidEvent {
  type: "credit.paid";
  loanId: string;
  /** hash of the payment */
  payment: string;
  amount: number;
  /** the token's balance after the payment */
  balance: number;
}

export interface CreditLateEvent {
  type: "credit.late";
  loanId: string;
  penalty: number;
  creditDecrease: number;
}

export interface CreditBlacklistedEvent {
  type: "credit.blacklisted";
  loanId: string;
  borrower: string;
}

export interface CreditRepaidEvent {
  type: "credit.repaid";
  loanId: string;
  due: number;
  late: boolean;
}

export interface CreditExpiredEvent {
  type: "credit.expired";
  loanId: string;
}

export type CreditEvent =
  | CreditOfferedEvent
  | CreditGrantedEvent
  | CreditPaidEvent
  | CreditLateEvent
  | CreditBlacklistedEvent
  | CreditRepaidEvent
  | CreditExpiredEvent;

// --- identity registry (aggregator/node/machine.ts: envelopes that change the registry, not the trading state)

export interface IdentityRegisteredEvent {
  type: "identity-registered";
  agent: string;
  /** the aggregator that presented the certificate */
  home: string;
}

export interface RevocationsInstalledEvent {
  type: "revocations-installed";
  version: number;
}

export type RegistryEvent = IdentityRegisteredEvent | RevocationsInstalledEvent;

/** Every event of the trading core and the modules plugged into it. */
export type TradingEvent =
  | WalletRegisteredEvent
  | AllocatedEvent
  | MintedEvent
  | MeterRecordedEvent
  | OrderAcceptedEvent
  | OrderCancelledEvent
  | IntervalClearedEvent
  | MatchedEvent
  | DeliveryConfirmedEvent
  | TradeDisputedEvent
  | TradeClosedEvent
  | IntervalSettledEvent
  | RewardPaidEvent
  | RewardNoneEvent
  | CreditEvent;

/** Every event of the aggregators' ledger: the trading core's and the identity registry's. */
export type LedgerEvent = TradingEvent | RegistryEvent;

/** Resolves what an event names only indirectly: a wallet's owner, a loan's borrower. */
export interface EventSubjects {
  walletOwner(address: string): string | undefined;
  loanBorrower(loanId: string): string | undefined;
}

/**
 * The participants whose accounts an event concerns: the agents it names, plus (with `via`) the owner of
 * the wallet it names and the borrower of the loan it names. May include an aggregator (a bank's or a
 * proof-of-work reward wallet's owner); callers keep the ids they serve. Unsorted, may repeat.
 */
export function agentsOfEvent(e: LedgerEvent, via?: EventSubjects): string[] {
  const owner = (w: string): string[] => optional(via?.walletOwner(w));
  const borrower = (loanId: string): string[] => optional(via?.loanBorrower(loanId));
  switch (e.type) {
    case "wallet-registered":
    case "meter-recorded":
    case "order-accepted":
    case "identity-registered":
      return [e.agent];
    case "allocated":
    case "minted":
      return owner(e.wallet);
    case "reward-paid":
      return [e.agent, ...owner(e.wallet)];
    case "matched":
    case "trade-closed":
      return [e.buyer, e.seller];
    case "trade-disputed":
      return [e.by];
    case "credit.offered":
    case "credit.blacklisted":
      return [e.borrower, ...borrower(e.loanId)];
    case "credit.granted":
    case "credit.paid":
    case "credit.late":
    case "credit.repaid":
    case "credit.expired":
      return borrower(e.loanId);
    // these change no one account by themselves (a cancelled order's owner sent the transaction)
    case "order-cancelled":
    case "interval-cleared":
    case "delivery-confirmed":
    case "interval-settled":
    case "reward-none":
    case "revocations-installed":
      return [];
    default:
      return unreachable(e);
  }
}

function optional(id: string | undefined): string[] {
  return id === undefined ? [] : [id];
}

function unreachable(e: never): never {
  throw new Error(`unhandled ledger event ${JSON.stringify(e)}`);
}
