import type { SealedBox } from "../../protocol/crypto/box.js";
import type { CreditToken } from "../../protocol/messages/credit.js";
import type { CreditConfig } from "./config.js";

/** A credit bank known to every replica: one per aggregator that lends. */
export interface BankInfo {
  /** ed25519 public key that signs the bank's tokens, hex */
  publicKey: string;
  /** the bank's own wallet, source of loans and sink of repayments */
  wallet: string;
}

export interface BorrowerRecord {
  credit: number;
  /** RP(s, f): loans repaid within the buffer, loans not repaid in time */
  s: number;
  f: number;
  /** hashes of the borrower's credit payments on finished loans, newest last, capped */
  paymentHashes: string[];
  activeLoan: string | null;
}

/** offered → active → repaid; active → defaulted (blacklisted) → repaid; offered → expired (never granted) */
export type LoanStatus = "offered" | "active" | "repaid" | "defaulted" | "expired";

export interface LoanPayment {
  paymentId: string;
  hash: string;
  sellerWallet: string;
  amount: number;
}

/** The pricing inputs and result kept for audit: floats, produced by the same IEEE operations everywhere. */
export interface LoanPricing {
  k: number;
  lambda: number;
  gamma: number;
  grade: number;
  tMonths: number;
  alpha: number;
  beta: number;
  R: number;
}

export interface Loan {
  id: string;
  bank: string;
  borrower: string;
  borrowerCert: string;
  boxKey: string;
  status: LoanStatus;
  requestedAt: number;
  validUntil: number;
  /** end of the repayment buffer */
  repayBy: number;
  /** unpaid after this: blacklisted */
  defaultAt: number;
  principal: number;
  interest: number;
  /** added to what is due once the loan is late */
  penaltyIfLate: number;
  interestPpm: number;
  penaltyPpm: number;
  pricing: LoanPricing;
  /** RP(s, f) and previous payment hashes at the time of the request */
  record: { s: number; f: number; paymentHashes: string[] };
  sharedWallet: string | null;
  keyDelivery: SealedBox | null;
  balance: number;
  payments: LoanPayment[];
  tokenVersion: number;
  tokenSig: string | null;
  late: boolean;
  settledAt: number | null;
}

export interface CreditState {
  v: 1;
  banks: Record<string, BankInfo>;
  borrowers: Record<string, BorrowerRecord>;
  loans: Record<string, Loan>;
}

export function createCreditState(banks: Record<string, BankInfo>): CreditState {
  return { v: 1, banks: { ...banks }, borrowers: {}, loans: {} };
}

export function borrowerRecord(state: CreditState, owner: string, config: CreditConfig): BorrowerRecord {
  return (
    state.borrowers[owner] ?? {
      credit: config.initialCredit,
      s: 0,
      f: 0,
      paymentHashes: [],
      activeLoan: null,
    }
  );
}

/** The token of a loan as it stands: a pure function of the loan, so bank and replicas derive the same bytes. */
export function tokenOf(loan: Loan): CreditToken {
  if (loan.sharedWallet === null) throw new RangeError(`loan ${loan.id} has no shared wallet yet`);
  return {
    v: 1,
    loanId: loan.id,
    bank: loan.bank,
    borrowerCert: loan.borrowerCert,
    sharedWallet: loan.sharedWallet,
    amount: loan.principal,
    balance: loan.balance,
    issuedAt: loan.requestedAt,
    validUntil: loan.validUntil,
    bufferMs: loan.repayBy - loan.validUntil,
    interestPpm: loan.interestPpm,
    penaltyPpm: loan.penaltyPpm,
    interest: loan.interest,
    penalty: loan.penaltyIfLate,
    record: { s: loan.record.s, f: loan.record.f, paymentHashes: [...loan.record.paymentHashes] },
    payments: loan.payments.map((p) => p.hash),
    version: loan.tokenVersion,
  };
}

/** What the borrower owes now: principal and interest, and the penalty once late. */
export function amountDue(loan: Loan): number {
  return loan.principal + loan.interest + (loan.late ? loan.penaltyIfLate : 0);
}

/** Deep copy through JSON: the state holds only JSON data, and handlers work on a copy until they commit. */
export function cloneLoan(loan: Loan): Loan {
  return JSON.parse(JSON.stringify(loan)) as Loan;
}
