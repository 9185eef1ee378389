/**
 * The borrower's credit decisions (pure; docs/CREDIT.md, seed 000 §III). One loan at a time, as the bank
 * allows. The token's balance is spent in one payment and repaid in full once the trading wallet holds
 * what is owed, within the token's validity plus buffer.
 */
import type {
  CreditRepayTx,
  SignedCreditToken,
  TokenRequest,
  UnsignedCreditPayment,
} from "../../protocol/messages/credit.js";

export type LoanStatus = "requested" | "granted" | "paid" | "repay-sent" | "closed";

/** What the agent keeps of its loan (the seed hex is the shared wallet's key, opened from the grant). */
export interface LoanRecord {
  /** request's outbox sequence; the loan id is known only once granted */
  requestSeq: number;
  requestedAt: number;
  loanId: string | null;
  sharedWallet: string | null;
  walletSeedHex: string | null;
  token: SignedCreditToken | null;
  status: LoanStatus;
  /** paid out of the shared wallet with the token so far (the bank's re-signed token is not sent back) */
  spentMc: number;
  /** outbox sequence of the credit.repay, while it awaits its result */
  repaySeq: number | null;
}

export interface CreditPolicy {
  enabled: boolean;
  amountMc: number;
  bank: string;
  claimedCredit: number;
  qMinKwh: number;
}

/**
 * A token request when a buy could not be paid: credit enabled, no loan under way, not blacklisted.
 * The demand's price is the reference price in milli-coins per kWh (p = price / 1000 coins per kWh).
 */
export function creditRequest(
  p: CreditPolicy,
  shortfallMc: number,
  loan: LoanRecord | null,
  who: { certSerial: string; wallets: string[]; boxKey: string; blacklisted: boolean },
  referenceMcPerKwh: number,
  now: number,
  retryAfterMs: number,
): TokenRequest | null {
  if (!p.enabled || shortfallMc <= 0 || who.blacklisted || who.wallets.length === 0) return null;
  if (loan !== null && loan.status !== "closed") return null;
  // a refused request is not repeated every interval: the bank's answer rarely changes that fast
  if (loan !== null && now - loan.requestedAt < retryAfterMs) return null;
  return {
    bank: p.bank,
    cert: who.certSerial,
    wallets: who.wallets,
    credit: p.claimedCredit,
    amount: p.amountMc > 0 ? p.amountMc : shortfallMc,
    boxKey: who.boxKey,
    demand: {
      qMinWh: Math.round(p.qMinKwh * 1000),
      priceMcPerKwh: Math.max(1, Math.round(referenceMcPerKwh)),
    },
  };
}

/**
 * The payment of a granted loan's token balance to a payee wallet (a seller's, or the borrower's own
 * trading wallet when the credit funds its own bids), to be signed with the shared wallet's key.
 */
export function creditPayment(
  loan: LoanRecord,
  payeeWallet: string,
  now: number,
): UnsignedCreditPayment | null {
  const t = loan.token;
  if (loan.status !== "granted" || t === null || t.balance <= 0 || now > t.validUntil) return null;
  return {
    loanId: t.loanId,
    paymentId: `pay-${t.version}`,
    sellerWallet: payeeWallet,
    amount: t.balance,
    ts: now,
  };
}

/** What the borrower still owes from its own wallet: principal + interest (+ penalty when late) − the rest in the shared wallet. */
export function owedFromWalletMc(token: SignedCreditToken, spentMc: number, now: number): number {
  const late = now > token.validUntil + token.bufferMs;
  const rest = Math.max(0, token.balance - spentMc);
  return Math.max(0, token.amount + token.interest + (late ? token.penalty : 0) - rest);
}

/** `credit.repay` as soon as the trading wallet's available balance covers the debt. */
export function repayment(
  loan: LoanRecord | null,
  availableMc: number | null,
  fromWallet: string,
  now: number,
): CreditRepayTx | null {
  if (loan === null || loan.token === null || availableMc === null) return null;
  if (loan.status !== "paid") return null;
  if (availableMc < owedFromWalletMc(loan.token, loan.spentMc, now)) return null;
  return { loanId: loan.token.loanId, fromWallet };
}
