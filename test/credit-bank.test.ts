import assert from "node:assert/strict";
import { test } from "node:test";
import { isCreditError } from "../aggregator/credit/errors.js";
import type { CreditResult } from "../aggregator/credit/handlers.js";
import { tokenOf } from "../aggregator/credit/state.js";
import { creditDecrease } from "../aggregator/credit/terms.js";
import { DAY, makeWorld, pay, T0, type World } from "../bench/harness/credit-world.js";
import {
  checkPaymentForSeller,
  openWalletKey,
  signPayment,
  verifyTokenSig,
} from "../protocol/credit-token.js";
import { hashJson } from "../protocol/hash.js";
import type { CreditGrantTx } from "../protocol/messages/credit.js";

function ok(r: CreditResult) {
  if (!r.ok) assert.fail(`expected success, got ${r.code}: ${r.message}`);
  return r.events;
}

function refused(w: World, r: CreditResult, code: string, before: string) {
  assert.equal(r.ok, false, "expected a refusal");
  if (!r.ok) assert.equal(r.code, code, r.message);
  assert.equal(hashJson(w.state), before, "a refusal must leave the credit state unchanged");
}

/** Request, grant and the borrower opening its key: the common start of most paths. */
function granted(w: World, time = T0) {
  const events = ok(w.apply("credit.request", w.request, time, "alice"));
  const loanId = events[0].loanId;
  const { tx } = w.bank.prepareGrant(w.state, loanId);
  ok(w.apply("credit.grant", tx, time + 1000, "bank1"));
  const seed = openWalletKey(tx.keyDelivery, w.borrowerBox, {
    loanId,
    sharedWallet: tx.sharedWallet,
    bankBoxKey: w.bankKeys.box.publicKey,
  });
  return { loanId, tx, seed, loan: () => w.state.loans[loanId] };
}

test("grant: priced loan, funded shared wallet, key sealed to the borrower, token signed by the bank", () => {
  const w = makeWorld();
  const supply = w.accounts.total();
  const { loanId, tx, loan } = granted(w);
  const l = loan();
  assert.equal(l.status, "active");
  assert.equal(l.principal, 50_000, "the borrower asked for less than R*, so it gets what it asked");
  assert.ok(l.pricing.R * 1000 >= l.principal);
  assert.equal(w.accounts.balance(tx.sharedWallet), 50_000);
  assert.equal(w.accounts.ownerOf(tx.sharedWallet), "bank1");
  assert.equal(w.accounts.total(), supply, "lending moves coins, it creates none");
  const token = tokenOf(l);
  assert.ok(verifyTokenSig(token, tx.tokenSig, w.state.banks.bank1.publicKey));
  assert.equal(token.balance, 50_000);
  assert.equal(token.validUntil - token.issuedAt, w.config.termDays * DAY);
  assert.equal(token.bufferMs, w.config.bufferDays * DAY);
  assert.deepEqual(token.record, { s: 0, f: 0, paymentHashes: [] });
  assert.equal(token.version, 1);
  assert.ok(token.interest > 0 && token.penalty > 0);
  assert.deepEqual(w.bank.currentToken(w.state, loanId).sig, tx.tokenSig);
  // the key delivery is recorded; someone else's box key cannot open it
  assert.deepEqual(l.keyDelivery, tx.keyDelivery);
  assert.throws(() =>
    openWalletKey(tx.keyDelivery, w.bankKeys.box, { loanId, sharedWallet: tx.sharedWallet }),
  );
});

test("grant refusals: wrong sender, forged token signature, wallet taken, lapsed offer", () => {
  const w = makeWorld();
  const loanId = ok(w.apply("credit.request", w.request, T0, "alice"))[0].loanId;
  const { tx } = w.bank.prepareGrant(w.state, loanId);
  const before = hashJson(w.state);
  refused(w, w.apply("credit.grant", tx, T0, "alice"), "UNAUTHORIZED", before);
  const forged: CreditGrantTx = {
    ...tx,
    tokenSig: tx.tokenSig.replace(/^./, (c) => (c === "0" ? "1" : "0")),
  };
  refused(w, w.apply("credit.grant", forged, T0, "bank1"), "BAD_TOKEN_SIGNATURE", before);
  w.accounts.add(tx.sharedWallet, "mallory", 0);
  refused(w, w.apply("credit.grant", tx, T0, "bank1"), "WALLET_TAKEN", before);
  w.accounts.wallets.delete(tx.sharedWallet);
  refused(w, w.apply("credit.grant", tx, T0 + 31 * DAY, "bank1"), "TOKEN_EXPIRED", before);
  // an offer never granted expires at the sweep and frees the borrower for a new request
  ok(w.apply("credit.sweep", {}, T0 + 31 * DAY, "bank1"));
  assert.equal(w.state.loans[loanId].status, "expired");
  assert.equal(w.state.borrowers.alice.activeLoan, null);
});

test("refusals name the failed condition and change nothing", () => {
  const cases: Array<[string, (w: World) => unknown, string]> = [
    ["UNKNOWN_BANK", (w) => ({ ...w.request, bank: "nobank" }), "alice"],
    ["NOT_WALLET_OWNER", (w) => ({ ...w.request, wallets: ["gw-seller"] }), "alice"],
    ["MALFORMED", (w) => ({ ...w.request, amount: -5 }), "alice"],
    [
      "NO_LOAN_OFFERED",
      (w) => ({ ...w.request, demand: { qMinWh: 3_000_000, priceMcPerKwh: 1000 } }),
      "alice",
    ],
  ];
  for (const [code, body, sender] of cases) {
    const w = makeWorld();
    refused(w, w.apply("credit.request", body(w), T0, sender), code, hashJson(w.state));
  }
  let w = makeWorld();
  w.accounts.wallets.get("gw-alice")!.balance = 0;
  refused(w, w.apply("credit.request", w.request, T0, "alice"), "NO_WEALTH", hashJson(w.state));

  w = makeWorld();
  w.accounts.incomes.set("alice", [{ time: T0 - DAY, amountMc: 500 }]);
  refused(w, w.apply("credit.request", w.request, T0, "alice"), "NO_REGULAR_INCOME", hashJson(w.state));
  w.accounts.incomes.set("alice", [
    { time: T0 - DAY, amountMc: 500 },
    { time: T0 - 2 * DAY, amountMc: 500 },
  ]);
  refused(w, w.apply("credit.request", w.request, T0, "alice"), "NO_REGULAR_INCOME", hashJson(w.state));

  w = makeWorld();
  w.blacklist.add("alice");
  refused(w, w.apply("credit.request", w.request, T0, "alice"), "BLACKLISTED", hashJson(w.state));

  w = makeWorld();
  w.accounts.wallets.get("gw-bank")!.balance = 10;
  refused(w, w.apply("credit.request", w.request, T0, "alice"), "BANK_FUNDS", hashJson(w.state));

  w = makeWorld();
  ok(w.apply("credit.request", w.request, T0, "alice"));
  refused(w, w.apply("credit.request", w.request, T0 + 1, "alice"), "ACTIVE_LOAN", hashJson(w.state));

  w = makeWorld({ initialCredit: 0 });
  w.state.borrowers.alice = { credit: -1, s: 0, f: 1, paymentHashes: [], activeLoan: null };
  refused(w, w.apply("credit.request", w.request, T0, "alice"), "NEGATIVE_CREDIT", hashJson(w.state));

  // a poor record (s = 1, f = 297: λ = 0.00336, raised to the floor 0.01) puts R* below 0 when the
  // borrower needs no energy (Qmin = 0): refused, and the message says why
  w = makeWorld();
  w.state.borrowers.alice = { credit: 2000, s: 1, f: 297, paymentHashes: [], activeLoan: null };
  const poor = w.apply(
    "credit.request",
    { ...w.request, demand: { qMinWh: 0, priceMcPerKwh: 1000 } },
    T0,
    "alice",
  );
  refused(w, poor, "NO_LOAN_OFFERED", hashJson(w.state));
  if (!poor.ok) {
    assert.match(poor.message, /R\* ≤ 0/);
    assert.doesNotMatch(poor.message, /k > 0/);
  }

  w = makeWorld();
  const r = w.apply("credit.nonsense", {}, T0, "alice");
  assert.equal(r.ok, false);
});

test("paying with the token: the bank pays the seller, lowers the balance and re-signs the token", () => {
  const w = makeWorld();
  const { loanId, seed, loan } = granted(w);
  const token = w.bank.currentToken(w.state, loanId);
  const bill = { seller: "sam", payment: pay(seed, loanId, "p1", 20_000, T0 + 2000), token };
  // the seller checks token and payment before delivering
  const expect = { bankPublicKey: w.state.banks.bank1.publicKey, sellerWallet: "gw-seller", now: T0 + 2000 };
  checkPaymentForSeller(token, bill.payment, expect);
  assert.throws(
    () => checkPaymentForSeller(token, pay(seed, loanId, "p1", 60_000, T0), expect),
    (e) => isCreditError(e, "OVERSPEND"),
  );
  assert.throws(
    () => checkPaymentForSeller(token, bill.payment, { ...expect, now: token.validUntil + 1 }),
    (e) => isCreditError(e, "TOKEN_EXPIRED"),
  );
  assert.throws(
    () => checkPaymentForSeller({ ...token, balance: 1e9 }, bill.payment, expect),
    (e) => isCreditError(e, "BAD_TOKEN_SIGNATURE"),
  );
  assert.throws(
    () => checkPaymentForSeller(token, bill.payment, { ...expect, sellerWallet: "gw-other" }),
    (e) => isCreditError(e, "WALLET_MISMATCH"),
  );
  const tx = w.bank.preparePay(w.state, bill);
  const events = ok(w.apply("credit.pay", tx, T0 + 3000, "bank1"));
  assert.equal(events[0].type, "credit.paid");
  assert.equal(w.accounts.balance("gw-seller"), 20_000);
  assert.equal(w.accounts.balance(loan().sharedWallet!), 30_000);
  const next = w.bank.currentToken(w.state, loanId);
  assert.equal(next.balance, 30_000);
  assert.equal(next.version, 2);
  assert.equal(next.payments.length, 1);
  assert.ok(verifyTokenSig(next, next.sig, w.state.banks.bank1.publicKey));
  // a stale token (version 1) is still a genuine token of the loan; the bank's balance decides
  const bill2 = { seller: "sam", payment: pay(seed, loanId, "p2", 30_000, T0 + 4000), token };
  ok(w.apply("credit.pay", w.bank.preparePay(w.state, bill2), T0 + 5000, "bank1"));
  assert.equal(w.state.loans[loanId].balance, 0);
});

test("overspending and other bad payments are refused without changing anything", () => {
  const w = makeWorld();
  const { loanId, seed } = granted(w);
  const token = w.bank.currentToken(w.state, loanId);
  const before = hashJson(w.state);
  const over = { seller: "sam", payment: pay(seed, loanId, "p1", 50_001, T0 + 2000), token };
  // the bank's service will not sign it; a bank that did would still be refused by every replica
  assert.throws(() => w.bank.preparePay(w.state, over), /exceeds/);
  const okBill = { seller: "sam", payment: pay(seed, loanId, "p1", 40_000, T0 + 2000), token };
  const sig = w.bank.preparePay(w.state, okBill).tokenSig;
  refused(w, w.apply("credit.pay", { bill: over, tokenSig: sig }, T0 + 3000, "bank1"), "OVERSPEND", before);
  assert.equal(w.accounts.balance("gw-seller"), 0);

  const wrongKey = { ...okBill, payment: signPayment({ ...okBill.payment }, new Uint8Array(32).fill(7)) };
  refused(
    w,
    w.apply("credit.pay", { bill: wrongKey, tokenSig: sig }, T0 + 3000, "bank1"),
    "BAD_PAYMENT_SIGNATURE",
    before,
  );
  refused(
    w,
    w.apply("credit.pay", { bill: okBill, tokenSig: sig }, T0 + 3000, "sam"),
    "UNAUTHORIZED",
    before,
  );
  const expired = w.apply("credit.pay", { bill: okBill, tokenSig: sig }, T0 + 31 * DAY, "bank1");
  refused(w, expired, "TOKEN_EXPIRED", before);
  const badToken = { ...okBill, token: { ...token, balance: 10_000_000 } };
  refused(
    w,
    w.apply("credit.pay", { bill: badToken, tokenSig: sig }, T0 + 3000, "bank1"),
    "BAD_TOKEN_SIGNATURE",
    before,
  );
  const otherSeller = { ...okBill, seller: "mallory" };
  refused(
    w,
    w.apply("credit.pay", { bill: otherSeller, tokenSig: sig }, T0 + 3000, "bank1"),
    "WALLET_MISMATCH",
    before,
  );

  ok(w.apply("credit.pay", { bill: okBill, tokenSig: sig }, T0 + 3000, "bank1"));
  const again = hashJson(w.state);
  const replay = w.apply(
    "credit.pay",
    w.bank.preparePay(w.state, { ...okBill, payment: pay(seed, loanId, "p1", 1, T0) }),
    T0 + 4000,
    "bank1",
  );
  refused(w, replay, "DUPLICATE_PAYMENT", again);
});

test("repayment on time: principal plus interest to the bank, s grows, credit unchanged", () => {
  const w = makeWorld();
  const { loanId, seed, loan } = granted(w);
  const token = w.bank.currentToken(w.state, loanId);
  ok(
    w.apply(
      "credit.pay",
      w.bank.preparePay(w.state, { seller: "sam", payment: pay(seed, loanId, "p1", 20_000, T0), token }),
      T0 + 10,
      "bank1",
    ),
  );
  const l = loan();
  const bankBefore = w.accounts.balance("gw-bank");
  const aliceBefore = w.accounts.balance("gw-alice");
  const at = l.validUntil + 2 * DAY; // inside the buffer
  const events = ok(w.apply("credit.repay", { loanId, fromWallet: "gw-alice" }, at, "alice"));
  assert.deepEqual(
    events.map((e) => e.type),
    ["credit.repaid"],
  );
  const due = l.principal + l.interest;
  assert.equal(w.accounts.balance("gw-bank") - bankBefore, due);
  // the unspent 30 000 in the shared wallet go first; the rest comes from the borrower's wallet
  assert.equal(aliceBefore - w.accounts.balance("gw-alice"), due - 30_000);
  assert.equal(w.accounts.balance(l.sharedWallet!), 0);
  const rec = w.state.borrowers.alice;
  assert.deepEqual([rec.s, rec.f, rec.credit, rec.activeLoan], [1, 0, w.config.initialCredit, null]);
  assert.equal(rec.paymentHashes.length, 1);
  // the next token carries RP(1, 0) and the previous payment's hash
  w.accounts.incomes.get("alice")!.push({ time: at, amountMc: 100 }, { time: at - 8 * DAY, amountMc: 100 });
  const second = granted(w, at + DAY);
  assert.deepEqual(tokenOf(second.loan()).record, { s: 1, f: 0, paymentHashes: rec.paymentHashes });
});

test("late repayment: f grows, credit value falls by d·amount, the penalty is added", () => {
  const w = makeWorld({ creditDecreasePerCoin: 3 });
  const { loanId, loan } = granted(w);
  const l = loan();
  const bankBefore = w.accounts.balance("gw-bank");
  const at = l.repayBy + DAY;
  const events = ok(w.apply("credit.repay", { loanId, fromWallet: "gw-alice" }, at, "alice"));
  assert.deepEqual(
    events.map((e) => e.type),
    ["credit.late", "credit.repaid"],
  );
  const decrease = creditDecrease(w.config, l.principal);
  assert.equal(decrease, 150, "3 credit points per coin of a 50-coin loan");
  const rec = w.state.borrowers.alice;
  assert.deepEqual([rec.s, rec.f, rec.credit], [0, 1, w.config.initialCredit - decrease]);
  assert.equal(w.accounts.balance("gw-bank") - bankBefore, l.principal + l.interest + l.penaltyIfLate);
  // with RP(0, 1), the next loan is priced with λ at its floor
  w.accounts.incomes.get("alice")!.push({ time: at, amountMc: 100 }, { time: at - 8 * DAY, amountMc: 100 });
  const next = granted(w, at + DAY);
  assert.equal(next.loan().pricing.lambda, 0.01);
});

test("a repayment the borrower cannot cover is refused and leaves the loan as it was", () => {
  const w = makeWorld();
  const { loanId, loan } = granted(w);
  w.accounts.wallets.get("gw-alice")!.balance = 1;
  const before = hashJson(w.state);
  refused(
    w,
    w.apply("credit.repay", { loanId, fromWallet: "gw-alice" }, loan().repayBy + DAY, "alice"),
    "INSUFFICIENT_FUNDS",
    before,
  );
  refused(
    w,
    w.apply("credit.repay", { loanId, fromWallet: "gw-seller" }, T0, "alice"),
    "NOT_WALLET_OWNER",
    before,
  );
  refused(w, w.apply("credit.repay", { loanId, fromWallet: "gw-alice" }, T0, "sam"), "UNAUTHORIZED", before);
});

test("unpaid past the limit: blacklisted; no more credit, token void, trading blocked via the blacklist", () => {
  const w = makeWorld({ defaultLimitDays: 365 });
  const { loanId, seed, loan } = granted(w);
  const l = loan();
  const late = ok(w.apply("credit.sweep", {}, l.repayBy + DAY, "bank1"));
  assert.deepEqual(
    late.map((e) => e.type),
    ["credit.late"],
  );
  assert.equal(w.blacklist.has("alice"), false, "late is not yet default");
  assert.equal(ok(w.apply("credit.sweep", {}, l.repayBy + 2 * DAY, "bank1")).length, 0, "late counts once");
  assert.equal(w.state.borrowers.alice.f, 1);
  const events = ok(w.apply("credit.sweep", {}, l.defaultAt + 1, "bank1"));
  assert.deepEqual(
    events.map((e) => e.type),
    ["credit.blacklisted"],
  );
  assert.equal(w.state.loans[loanId].status, "defaulted");
  // the state machine's blacklist set now holds the borrower: it refuses its trades
  assert.ok(w.blacklist.has("alice"));
  const token = w.bank.currentToken(w.state, loanId);
  const bill = { seller: "sam", payment: pay(seed, loanId, "p9", 1, l.defaultAt), token };
  const before = hashJson(w.state);
  refused(
    w,
    w.apply("credit.pay", { bill, tokenSig: token.sig }, l.defaultAt + 2, "bank1"),
    "BLACKLISTED",
    before,
  );
  // a defaulter may still settle its debt, with the penalty, but stays blacklisted and cannot borrow
  ok(w.apply("credit.repay", { loanId, fromWallet: "gw-alice" }, l.defaultAt + 3, "alice"));
  assert.equal(w.state.loans[loanId].status, "repaid");
  const again = hashJson(w.state);
  refused(w, w.apply("credit.request", w.request, l.defaultAt + 4, "alice"), "BLACKLISTED", again);
});

test("two replicas applying the same transactions reach the same credit state", () => {
  const run = () => {
    const w = makeWorld();
    const { loanId, seed } = granted(w);
    const token = w.bank.currentToken(w.state, loanId);
    ok(
      w.apply(
        "credit.pay",
        w.bank.preparePay(w.state, { seller: "sam", payment: pay(seed, loanId, "p1", 5, T0), token }),
        T0 + 5,
        "bank1",
      ),
    );
    ok(w.apply("credit.sweep", {}, T0 + 40 * DAY, "bank1"));
    ok(w.apply("credit.repay", { loanId, fromWallet: "gw-alice" }, T0 + 41 * DAY, "alice"));
    return hashJson(w.state);
  };
  assert.equal(run(), run());
});
