import type { z } from "#zod";
import { paymentHash, verifyPaymentSig, verifyTokenSig } from "../../protocol/credit-token.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { hashJson } from "../../protocol/hash.js";
import {
  type CreditTxType,
  creditGrantTxSchema,
  creditPayTxSchema,
  creditRepayTxSchema,
  creditSweepTxSchema,
  tokenRequestSchema,
} from "../../protocol/messages/credit.js";
import type { CreditEvent } from "../state/events.js";
import { type CreditConfig, msOfDays } from "./config.js";
import { checkEligibility } from "./eligibility.js";
import { CreditError, type CreditErrorCode } from "./errors.js";
import type { CreditPorts, CreditTxContext } from "./ports.js";
import { NO_LOAN_REASONS } from "./pricing.js";
import { amountDue, borrowerRecord, type CreditState, cloneLoan, type Loan, tokenOf } from "./state.js";
import { creditDecrease, demandOf, loanTerms } from "./terms.js";

/**
 * The credit bank as deterministic transaction handlers over an explicit CreditState. Each handler
 * validates everything first and only then changes the state and calls the accounts port, so a
 * rejected transaction leaves both untouched.
 */
export interface CreditEnv {
  config: CreditConfig;
  ports: CreditPorts;
  crypto?: Ed25519;
}

export type { CreditEvent } from "../state/events.js";

export type CreditResult =
  | { ok: true; events: CreditEvent[] }
  | { ok: false; code: CreditErrorCode; message: string };

type Handler = (state: CreditState, body: unknown, ctx: CreditTxContext, env: CreditEnv) => CreditEvent[];

function parse<T>(schema: z.ZodType<T>, body: unknown, type: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.length > 0 ? issue.path.join(".") : "(body)";
    throw new CreditError("MALFORMED", `${type}: ${path}: ${issue.message}`, { path });
  }
  return r.data;
}

function loanOf(state: CreditState, loanId: string): Loan {
  const loan = state.loans[loanId];
  if (loan === undefined) throw new CreditError("UNKNOWN_LOAN", `no loan ${loanId}`, { loanId });
  return loan;
}

function bankOf(state: CreditState, bank: string) {
  const info = state.banks[bank];
  if (info === undefined) throw new CreditError("UNKNOWN_BANK", `no credit bank "${bank}"`, { bank });
  return info;
}

const request: Handler = (state, body, ctx, env) => {
  const req = parse(tokenRequestSchema, body, "credit.request");
  const bank = bankOf(state, req.bank);
  const { config, ports } = env;
  const record = borrowerRecord(state, ctx.sender, config);
  checkEligibility(ctx.sender, req, record, config, ports, ctx.time);
  const terms = loanTerms(config, record, demandOf(req.demand), req.amount);
  if (terms.principal <= 0) {
    const reason = terms.quote.reason;
    const why = reason === null ? `the loan rounds to ${terms.principal} mc` : NO_LOAN_REASONS[reason];
    throw new CreditError("NO_LOAN_OFFERED", `the Stackelberg optimum offers this borrower no loan: ${why}`, {
      k: terms.quote.k,
      reason: reason ?? "ROUNDS_TO_ZERO",
      R: terms.quote.R,
    });
  }
  if (ports.accounts.balance(bank.wallet) < terms.principal) {
    throw new CreditError("BANK_FUNDS", `bank "${req.bank}" cannot fund ${terms.principal} mc`);
  }
  const id = hashJson({ bank: req.bank, borrower: ctx.sender, time: ctx.time, height: ctx.height, req });
  const validUntil = ctx.time + msOfDays(config.termDays);
  const repayBy = validUntil + msOfDays(config.bufferDays);
  state.loans[id] = {
    id,
    bank: req.bank,
    borrower: ctx.sender,
    borrowerCert: req.cert,
    boxKey: req.boxKey,
    status: "offered",
    requestedAt: ctx.time,
    validUntil,
    repayBy,
    defaultAt: repayBy + msOfDays(config.defaultLimitDays),
    principal: terms.principal,
    interest: terms.interest,
    penaltyIfLate: terms.penaltyIfLate,
    interestPpm: terms.interestPpm,
    penaltyPpm: terms.penaltyPpm,
    pricing: terms.pricing,
    record: { s: record.s, f: record.f, paymentHashes: [...record.paymentHashes] },
    sharedWallet: null,
    keyDelivery: null,
    balance: 0,
    payments: [],
    tokenVersion: 0,
    tokenSig: null,
    late: false,
    settledAt: null,
  };
  state.borrowers[ctx.sender] = { ...record, activeLoan: id };
  return [
    {
      type: "credit.offered",
      loanId: id,
      bank: req.bank,
      borrower: ctx.sender,
      principal: terms.principal,
      interest: terms.interest,
      penaltyIfLate: terms.penaltyIfLate,
      alpha: terms.quote.alpha,
      beta: terms.quote.beta,
    },
  ];
};

const grant: Handler = (state, body, ctx, env) => {
  const tx = parse(creditGrantTxSchema, body, "credit.grant");
  const loan = loanOf(state, tx.loanId);
  if (ctx.sender !== loan.bank)
    throw new CreditError("UNAUTHORIZED", "only the lending bank grants its loan");
  if (loan.status !== "offered") throw new CreditError("LOAN_NOT_OFFERED", `loan is ${loan.status}`);
  if (ctx.time > loan.validUntil) throw new CreditError("TOKEN_EXPIRED", "the offer lapsed before the grant");
  const bank = bankOf(state, loan.bank);
  const { accounts } = env.ports;
  if (accounts.ownerOf(tx.sharedWallet) !== undefined) {
    throw new CreditError("WALLET_TAKEN", `wallet ${tx.sharedWallet} already exists`);
  }
  if (accounts.balance(bank.wallet) < loan.principal) {
    throw new CreditError("BANK_FUNDS", `bank "${loan.bank}" cannot fund ${loan.principal} mc`);
  }
  const next = cloneLoan(loan);
  next.status = "active";
  next.sharedWallet = tx.sharedWallet;
  next.keyDelivery = tx.keyDelivery;
  next.balance = loan.principal;
  next.tokenVersion = 1;
  if (!verifyTokenSig(tokenOf(next), tx.tokenSig, bank.publicKey, env.crypto ?? defaultEd25519)) {
    throw new CreditError("BAD_TOKEN_SIGNATURE", "the grant's token signature is not the bank's");
  }
  next.tokenSig = tx.tokenSig;
  accounts.openWallet(tx.sharedWallet, loan.bank);
  accounts.transfer(bank.wallet, tx.sharedWallet, loan.principal);
  state.loans[loan.id] = next;
  return [{ type: "credit.granted", loanId: loan.id, sharedWallet: tx.sharedWallet, amount: loan.principal }];
};

const pay: Handler = (state, body, ctx, env) => {
  const { bill, tokenSig } = parse(creditPayTxSchema, body, "credit.pay");
  const p = bill.payment;
  const loan = loanOf(state, p.loanId);
  if (ctx.sender !== loan.bank) throw new CreditError("UNAUTHORIZED", "only the lending bank pays a bill");
  if (env.ports.blacklist.has(loan.borrower)) {
    throw new CreditError("BLACKLISTED", "the borrower is blacklisted; its token is void");
  }
  if (loan.status !== "active" || loan.sharedWallet === null) {
    throw new CreditError("LOAN_NOT_ACTIVE", `loan is ${loan.status}`);
  }
  const bank = bankOf(state, loan.bank);
  const crypto = env.crypto ?? defaultEd25519;
  const { sig: shownSig, ...shown } = bill.token;
  if (
    shown.loanId !== loan.id ||
    shown.sharedWallet !== loan.sharedWallet ||
    !verifyTokenSig(shown, shownSig, bank.publicKey, crypto)
  ) {
    throw new CreditError(
      "BAD_TOKEN_SIGNATURE",
      "the token shown with the bill is not this loan's signed token",
    );
  }
  if (ctx.time > loan.validUntil) throw new CreditError("TOKEN_EXPIRED", "the token's validity has ended");
  if (!verifyPaymentSig(p, loan.sharedWallet, crypto)) {
    throw new CreditError("BAD_PAYMENT_SIGNATURE", "the payment is not signed with the shared wallet's key");
  }
  if (loan.payments.some((x) => x.paymentId === p.paymentId)) {
    throw new CreditError("DUPLICATE_PAYMENT", `payment "${p.paymentId}" was already paid`);
  }
  const { accounts } = env.ports;
  if (accounts.ownerOf(p.sellerWallet) !== bill.seller) {
    throw new CreditError("WALLET_MISMATCH", `wallet "${p.sellerWallet}" is not the seller's`);
  }
  if (p.amount > loan.balance || p.amount > accounts.balance(loan.sharedWallet)) {
    throw new CreditError(
      "OVERSPEND",
      `payment of ${p.amount} mc exceeds the token balance ${loan.balance} mc`,
      {
        amount: p.amount,
        balance: loan.balance,
      },
    );
  }
  const next = cloneLoan(loan);
  const hash = paymentHash(p);
  next.balance -= p.amount;
  next.payments.push({ paymentId: p.paymentId, hash, sellerWallet: p.sellerWallet, amount: p.amount });
  next.tokenVersion += 1;
  if (!verifyTokenSig(tokenOf(next), tokenSig, bank.publicKey, crypto)) {
    throw new CreditError("BAD_TOKEN_SIGNATURE", "the re-signed token's signature is not the bank's");
  }
  next.tokenSig = tokenSig;
  accounts.transfer(loan.sharedWallet, p.sellerWallet, p.amount);
  state.loans[loan.id] = next;
  return [{ type: "credit.paid", loanId: loan.id, payment: hash, amount: p.amount, balance: next.balance }];
};

/** Lateness and default at `time`: f and the credit value change once per loan, the blacklist once. */
function applyOverdue(state: CreditState, loan: Loan, time: number, env: CreditEnv): CreditEvent[] {
  const events: CreditEvent[] = [];
  if (loan.status !== "active" && loan.status !== "defaulted") return events;
  const rec = borrowerRecord(state, loan.borrower, env.config);
  if (!loan.late && time > loan.repayBy) {
    loan.late = true;
    const decrease = creditDecrease(env.config, loan.principal);
    state.borrowers[loan.borrower] = { ...rec, f: rec.f + 1, credit: rec.credit - decrease };
    events.push({
      type: "credit.late",
      loanId: loan.id,
      penalty: loan.penaltyIfLate,
      creditDecrease: decrease,
    });
  }
  if (loan.status === "active" && time > loan.defaultAt) {
    loan.status = "defaulted";
    env.ports.blacklist.add(loan.borrower);
    events.push({ type: "credit.blacklisted", loanId: loan.id, borrower: loan.borrower });
  }
  return events;
}

const repay: Handler = (state, body, ctx, env) => {
  const tx = parse(creditRepayTxSchema, body, "credit.repay");
  const loan = loanOf(state, tx.loanId);
  if (ctx.sender !== loan.borrower)
    throw new CreditError("UNAUTHORIZED", "only the borrower repays its loan");
  if ((loan.status !== "active" && loan.status !== "defaulted") || loan.sharedWallet === null) {
    throw new CreditError("LOAN_NOT_ACTIVE", `loan is ${loan.status}`);
  }
  const { accounts } = env.ports;
  if (accounts.ownerOf(tx.fromWallet) !== loan.borrower) {
    throw new CreditError("NOT_WALLET_OWNER", `wallet "${tx.fromWallet}" does not belong to the borrower`);
  }
  const late = loan.late || ctx.time > loan.repayBy;
  const due = loan.principal + loan.interest + (late ? loan.penaltyIfLate : 0);
  const fromShared = Math.min(accounts.balance(loan.sharedWallet), due);
  const rest = due - fromShared;
  if (accounts.balance(tx.fromWallet) < rest) {
    throw new CreditError("INSUFFICIENT_FUNDS", `repayment needs ${rest} mc from "${tx.fromWallet}"`, {
      due,
      rest,
    });
  }
  const bank = bankOf(state, loan.bank);
  const events = applyOverdue(state, loan, ctx.time, env);
  if (fromShared > 0) accounts.transfer(loan.sharedWallet, bank.wallet, fromShared);
  if (rest > 0) accounts.transfer(tx.fromWallet, bank.wallet, rest);
  const rec = borrowerRecord(state, loan.borrower, env.config);
  const hashes = [...rec.paymentHashes, ...loan.payments.map((p) => p.hash)].slice(
    -env.config.maxRecordHashes,
  );
  state.borrowers[loan.borrower] = {
    ...rec,
    s: loan.late ? rec.s : rec.s + 1,
    paymentHashes: hashes,
    activeLoan: null,
  };
  loan.status = "repaid";
  loan.settledAt = ctx.time;
  events.push({ type: "credit.repaid", loanId: loan.id, due: amountDue(loan), late: loan.late });
  return events;
};

const sweep: Handler = (state, body, ctx, env) => {
  parse(creditSweepTxSchema, body, "credit.sweep");
  const events: CreditEvent[] = [];
  for (const id of Object.keys(state.loans).sort()) {
    const loan = state.loans[id];
    if (loan.status === "offered" && ctx.time > loan.validUntil) {
      loan.status = "expired";
      const rec = borrowerRecord(state, loan.borrower, env.config);
      if (rec.activeLoan === id) state.borrowers[loan.borrower] = { ...rec, activeLoan: null };
      events.push({ type: "credit.expired", loanId: id });
    }
    events.push(...applyOverdue(state, loan, ctx.time, env));
  }
  return events;
};

export const creditHandlers: Readonly<Record<CreditTxType, Handler>> = {
  "credit.request": request,
  "credit.grant": grant,
  "credit.pay": pay,
  "credit.repay": repay,
  "credit.sweep": sweep,
};

export function isCreditTxType(type: string): type is CreditTxType {
  return Object.hasOwn(creditHandlers, type);
}

/**
 * Applies one credit transaction. Refusals come back as `{ok: false, code}` with the state unchanged;
 * anything else thrown is a programming error and propagates.
 */
export function applyCreditTx(
  state: CreditState,
  type: string,
  body: unknown,
  ctx: CreditTxContext,
  env: CreditEnv,
): CreditResult {
  if (!isCreditTxType(type))
    return { ok: false, code: "MALFORMED", message: `"${type}" is not a credit transaction` };
  try {
    return { ok: true, events: creditHandlers[type](state, body, ctx, env) };
  } catch (e) {
    if (e instanceof CreditError) return { ok: false, code: e.code, message: e.message };
    throw e;
  }
}
