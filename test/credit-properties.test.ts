import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { creditConfigSchema, DEFAULT_CREDIT_CONFIG } from "../aggregator/credit/config.js";
import type { CreditResult } from "../aggregator/credit/handlers.js";
import { DAY, makeWorld, pay, T0 } from "../bench/harness/credit-world.js";
import { hashJson } from "../protocol/hash.js";

type Op =
  | { kind: "request"; amount: number }
  | { kind: "grant" }
  | { kind: "pay"; amount: number; id: number }
  | { kind: "repay" }
  | { kind: "sweep" }
  | { kind: "wait"; days: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      amount: fc.integer({ min: 1, max: 200_000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("grant" as const) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("pay" as const),
      amount: fc.integer({ min: 1, max: 60_000 }),
      id: fc.integer({ min: 0, max: 5 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("repay" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("sweep" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("wait" as const), days: fc.integer({ min: 0, max: 20 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("wait" as const), days: fc.integer({ min: 20, max: 400 }) }),
  },
);

test("any sequence of credit transactions conserves coins, keeps token and wallet balances equal, and refusals change nothing", () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 15, maxLength: 40 }), (ops) => {
      const w = makeWorld();
      const total = w.accounts.total();
      let time = T0;
      let seed: Uint8Array | undefined;
      for (const o of ops) {
        // keep the borrower's sales regular so that requests are judged on the other conditions
        w.accounts.incomes.get("alice")!.push({ time, amountMc: 10 }, { time: time - 8 * DAY, amountMc: 10 });
        const loanId = w.state.borrowers.alice?.activeLoan ?? null;
        const loan = loanId === null ? undefined : w.state.loans[loanId];
        const before = hashJson(w.state);
        let r: CreditResult | undefined;
        switch (o.kind) {
          case "request":
            r = w.apply("credit.request", { ...w.request, amount: o.amount }, time, "alice");
            break;
          case "grant":
            if (loan?.status === "offered") {
              const g = w.bank.prepareGrant(w.state, loan.id);
              seed = g.walletSeed;
              r = w.apply("credit.grant", g.tx, time, "bank1");
            }
            break;
          case "pay":
            if (loan?.tokenSig && seed) {
              const token = w.bank.currentToken(w.state, loan.id);
              const payment = pay(seed, loan.id, `p${o.id}`, o.amount, time);
              // first with the signature of the token as it stands: never valid for a changed token
              r = w.apply(
                "credit.pay",
                { bill: { seller: "sam", payment, token }, tokenSig: token.sig },
                time,
                "bank1",
              );
              if (o.amount <= loan.balance && !loan.payments.some((p) => p.paymentId === `p${o.id}`)) {
                try {
                  r = w.apply(
                    "credit.pay",
                    w.bank.preparePay(w.state, { seller: "sam", payment, token }),
                    time,
                    "bank1",
                  );
                } catch {
                  // preparePay refuses bills on loans that are not active; nothing was applied
                }
              }
            }
            break;
          case "repay":
            if (loan) r = w.apply("credit.repay", { loanId: loan.id, fromWallet: "gw-alice" }, time, "alice");
            break;
          case "sweep":
            r = w.apply("credit.sweep", {}, time, "bank1");
            break;
          case "wait":
            time += o.days * DAY;
            break;
        }
        if (r && !r.ok)
          assert.equal(hashJson(w.state), before, `refused ${o.kind} (${r.code}) changed the state`);
        assert.equal(w.accounts.total(), total, "coins are conserved");
        for (const l of Object.values(w.state.loans)) {
          assert.ok(l.balance >= 0);
          if (l.status === "active" && l.sharedWallet)
            assert.equal(w.accounts.balance(l.sharedWallet), l.balance);
          if (l.status === "repaid" && l.sharedWallet) assert.equal(w.accounts.balance(l.sharedWallet), 0);
        }
      }
    }),
    { numRuns: 100, seed: 2026 },
  );
});

test("creditConfigSchema: defaults from the seed, field-path errors for bad values", () => {
  assert.equal(DEFAULT_CREDIT_CONFIG.eta, 3.5);
  assert.equal(DEFAULT_CREDIT_CONFIG.defaultLimitDays, 365);
  assert.equal(DEFAULT_CREDIT_CONFIG.eligibility.minIncomePeriods, 2);
  for (const [bad, path] of [
    [{ eta: 1 }, "eta"],
    [{ termDays: 0.5 }, "termDays"],
    [{ scanStep: 20 }, "scanStep"],
    [{ eligibility: { incomePeriods: 2, minIncomePeriods: 3 } }, "eligibility.minIncomePeriods"],
    [{ unknown: 1 }, ""],
  ] as const) {
    const r = creditConfigSchema.safeParse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
    if (!r.success) assert.equal(r.error.issues[0].path.join("."), path);
  }
});
