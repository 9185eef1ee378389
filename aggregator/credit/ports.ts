/**
 * What the credit bank needs from the accounts and market state machine, and nothing more. The state
 * machine implements these over its own state; credit handlers never see its internals. Every method is
 * deterministic and synchronous: the handlers run inside the replicated state transition.
 */
export interface IncomeRecord {
  /** block time of the settlement, ms */
  time: number;
  /** milli-coins the owner received for energy it sold */
  amountMc: number;
}

export interface CreditAccountsPort {
  /** spendable (unfrozen) balance of a wallet, milli-coins; 0 for an unknown wallet */
  balance(wallet: string): number;
  /** owner id of a wallet, undefined when the wallet does not exist */
  ownerOf(wallet: string): string | undefined;
  /** creates an empty wallet owned by `owner` (the bank, for a shared wallet) */
  openWallet(wallet: string, owner: string): void;
  /**
   * Moves coins between two existing wallets. The credit handlers check funds and authority before
   * calling, so a failure here is a programming error and may throw.
   */
  transfer(from: string, to: string, amountMc: number): void;
  /** income from energy sales credited to any wallet of `owner` at or after `sinceMs` */
  incomeSince(owner: string, sinceMs: number): readonly IncomeRecord[];
}

/** The replicated blacklist: the state machine refuses every trade of a listed owner. */
export interface BlacklistPort {
  has(owner: string): boolean;
  add(owner: string): void;
}

export interface CreditPorts {
  accounts: CreditAccountsPort;
  blacklist: BlacklistPort;
}

/** What a credit transaction is applied with; the state machine fills it from the block and the envelope. */
export interface CreditTxContext {
  /** block time, ms: the only clock the credit bank sees */
  time: number;
  height: number;
  /** authenticated id of the transaction's signer (envelope sender) */
  sender: string;
}
