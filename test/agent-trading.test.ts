/** The agent's pure trading decisions (agent/participant/core.ts, credit.ts) and its configuration. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tradingConfigSchema } from "../agent/participant/config.js";
import {
  agentIntervalEnergy,
  buyCostMc,
  confirmations,
  intervalsToSummarise,
  type PlanInput,
  planOrder,
} from "../agent/participant/core.js";
import {
  creditPayment,
  creditRequest,
  type LoanRecord,
  owedFromWalletMc,
  repayment,
} from "../agent/participant/credit.js";
import { ConfigError, loadConfigFile, parseConfigText } from "../config/load.js";
import { agentConfigSchema } from "../config/schema.js";
import { sampleCreditToken } from "./helpers/fixtures.js";

const terms = { intervalMs: 10_000, depositPct: 10, maxPriceMcPerKwh: 1_000_000 };
const limits = { historyIntervals: 2, sellAboveWh: 1, buyAboveWh: 1, maxSellWh: 5000, maxBuyWh: 5000 };
const price = { sellDiscountPct: 5, minSellMcPerKwh: 0, buyMarkupPct: 5, maxBuyMcPerKwh: 1_000_000 };
const announce = { interval: 101, demandWh: 0, supplyWh: 0, buyers: 0, referencePriceMcPerKwh: 200_000 };

function plan(over: Partial<PlanInput>) {
  return planOrder({
    now: 1_005_000, // interval 100: orders go to 101
    terms,
    limits,
    price,
    wallet: "gw-wallet-one",
    announce,
    recent: [],
    ordered: new Set(),
    availableMc: null,
    settleDelayMs: 1000,
    ...over,
  });
}

test("role and price: PV export sells below the reference, net import buys above it", () => {
  const sell = plan({
    recent: [
      { importWh: 10, exportWh: 810 },
      { importWh: 0, exportWh: 600 },
    ],
  });
  assert.equal(sell.kind, "order");
  if (sell.kind !== "order") return;
  assert.equal(sell.order.side, "sell");
  assert.equal(sell.order.interval, 101);
  assert.equal(sell.order.energyWh, 700);
  assert.equal(sell.order.limitPriceMcPerKwh, 190_000);
  const buy = plan({
    recent: [
      { importWh: 400, exportWh: 0 },
      { importWh: 300, exportWh: 100 },
    ],
  });
  assert.equal(buy.kind === "order" && buy.order.side, "buy");
  assert.equal(buy.kind === "order" && buy.order.energyWh, 300);
  assert.equal(buy.kind === "order" && buy.order.limitPriceMcPerKwh, 210_000);
  // payment 300 Wh × 210 coin/MWh = 63 000 mc, deposit 10 %
  assert.equal(buy.kind === "order" && buy.order.deposit.maxDepositMc, 6300);
  assert.equal(plan({ recent: [{ importWh: 5, exportWh: 5 }] }).kind, "idle");
});

test("no reference price, no order; the configured fallback stands in until an announcement", () => {
  const recent = [{ importWh: 100, exportWh: 0 }];
  assert.deepEqual(plan({ announce: null, recent }), {
    kind: "idle",
    reason: "no-reference-price",
    shortfallMc: 0,
  });
  const p = plan({ announce: null, recent, price: { ...price, fallbackReferenceMcPerKwh: 100_000 } });
  assert.equal(p.kind === "order" && p.order.limitPriceMcPerKwh, 105_000);
  assert.equal(plan({ recent, ordered: new Set([101]) }).kind, "idle");
  // early in the interval the order waits for the summary of the interval just ended
  assert.deepEqual(plan({ recent, now: 1_000_999 }), {
    kind: "idle",
    reason: "before-summary",
    shortfallMc: 0,
  });
  assert.equal(plan({ recent, now: 1_001_000 }).kind, "order");
});

test("a buyer short of funds bids what it can pay and reports the shortfall", () => {
  const recent = [{ importWh: 1000, exportWh: 0 }];
  const full = plan({ recent });
  assert.equal(full.kind, "order");
  if (full.kind !== "order") return;
  const need = buyCostMc(full.order);
  assert.equal(need, 231_000);
  const p = plan({ recent, availableMc: 100_000 });
  assert.equal(p.kind, "order");
  if (p.kind !== "order") return;
  assert.equal(p.shortfallMc, need - 100_000);
  assert.ok(buyCostMc(p.order) <= 100_000);
  // one Wh more would not fit: the order is the largest affordable
  const oneMore = Number((BigInt(p.order.energyWh + 1) * 210_000n) / 1000n);
  assert.ok(oneMore + Math.floor(oneMore / 10) > 100_000);
  const none = plan({ recent, availableMc: 0 });
  assert.deepEqual(none, { kind: "idle", reason: "no-funds", shortfallMc: need });
});

test("interval energy sums each meter's own counter differences", () => {
  const r = (meter: string, ts: number, importWh: number, exportWh: number) => ({
    meter,
    ts,
    importWh,
    exportWh,
    powerW: 0,
  });
  const e = agentIntervalEnergy(
    [
      r("a", 1_000_000, 100, 0),
      r("a", 1_005_000, 150, 0),
      r("a", 1_010_000, 180, 0),
      r("b", 999_000, 5000, 70),
      r("b", 1_010_000, 5000, 90),
    ],
    100,
    terms,
  );
  assert.deepEqual(e, { importWh: 80, exportWh: 20, readings: 3 });
  assert.equal(agentIntervalEnergy([], 100, terms), null);
});

test("confirmations share the metered import pro rata and never exceed a trade", () => {
  const buys = [
    { tradeId: "t1", energyWh: 300 },
    { tradeId: "t2", energyWh: 100 },
  ];
  assert.deepEqual(confirmations(buys, 1000), [
    { tradeId: "t1", receivedWh: 300 },
    { tradeId: "t2", receivedWh: 100 },
  ]);
  assert.deepEqual(confirmations(buys, 200), [
    { tradeId: "t1", receivedWh: 150 },
    { tradeId: "t2", receivedWh: 50 },
  ]);
  assert.deepEqual(confirmations(buys, 0), [
    { tradeId: "t1", receivedWh: 0 },
    { tradeId: "t2", receivedWh: 0 },
  ]);
});

test("summaries wait for the settle delay and skip what was sent", () => {
  assert.deepEqual(intervalsToSummarise(1_010_500, terms, 1000, 0, new Set()), [96, 97, 98, 99]);
  assert.deepEqual(intervalsToSummarise(1_011_000, terms, 1000, 99, new Set([99])), [100]);
});

const token = sampleCreditToken;

test("credit: asked once per shortfall, spent once, repaid when the wallet covers the debt", () => {
  const policy = { enabled: true, amountMc: 0, bank: "agg-1", claimedCredit: 0, qMinKwh: 1 };
  const who = {
    certSerial: "serial",
    wallets: ["gw-wallet-one"],
    boxKey: "d".repeat(64),
    blacklisted: false,
  };
  const req = creditRequest(policy, 42_000, null, who, 200_000, 0, 100_000);
  assert.equal(req?.amount, 42_000);
  assert.deepEqual(req?.demand, { qMinWh: policy.qMinKwh * 1000, priceMcPerKwh: 200_000 });
  assert.equal(creditRequest({ ...policy, enabled: false }, 42_000, null, who, 200_000, 0, 100_000), null);
  assert.equal(creditRequest(policy, 42_000, null, { ...who, blacklisted: true }, 200_000, 0, 100_000), null);
  const loan: LoanRecord = {
    requestSeq: 1,
    requestedAt: 0,
    loanId: token.loanId,
    sharedWallet: token.sharedWallet,
    walletSeedHex: "00",
    token,
    status: "granted",
    spentMc: 0,
    repaySeq: null,
  };
  assert.equal(creditRequest(policy, 42_000, loan, who, 200_000, 0, 100_000), null, "one loan at a time");
  const closed = { ...loan, status: "closed" as const };
  assert.equal(creditRequest(policy, 1, closed, who, 1, 50_000, 100_000), null, "refused lately: wait");
  assert.ok(creditRequest(policy, 1, closed, who, 1, 150_000, 100_000));
  const pay = creditPayment(loan, "gw-wallet-one", 500);
  assert.deepEqual(pay, {
    loanId: token.loanId,
    paymentId: "pay-1",
    sellerWallet: "gw-wallet-one",
    amount: 50_000,
    ts: 500,
  });
  assert.equal(creditPayment({ ...loan, status: "paid" }, "gw-wallet-one", 500), null);
  assert.equal(creditPayment(loan, "gw-wallet-one", 1_000_001), null, "token expired");
  const spent = { ...loan, status: "paid" as const, spentMc: 50_000 };
  assert.equal(owedFromWalletMc(token, 50_000, 0), 50_600);
  assert.equal(owedFromWalletMc(token, 50_000, 1_100_001), 51_500, "late: penalty added");
  assert.equal(repayment(spent, 50_599, "gw-wallet-one", 0), null);
  assert.deepEqual(repayment(spent, 50_600, "gw-wallet-one", 0), {
    loanId: token.loanId,
    fromWallet: "gw-wallet-one",
  });
});

test("config: trading defaults and typed refusals", () => {
  const c = tradingConfigSchema.parse({ enabled: true });
  assert.equal(c.market.depositPct, 10);
  assert.equal(c.credit.enabled, false);
  assert.equal(tradingConfigSchema.safeParse({ limits: { maxBuyWh: 0 } }).success, false);
  // the shipped example documents every field and matches the genesis defaults
  const example = loadConfigFile(agentConfigSchema, join(process.cwd(), "config", "agent.example.yaml"), {});
  assert.equal(example.trading.enabled, false);
  assert.equal(example.trading.market.maxPriceMcPerKwh, 2000);
  // a configuration without a trading section still loads, with trading off
  const text = readFileSync(join(process.cwd(), "config", "agent.example.yaml"), "utf8");
  const withoutTrading = parseConfigText(
    agentConfigSchema,
    text.slice(0, text.indexOf("\ntrading:")),
    "x.yaml",
    {},
  );
  assert.deepEqual(withoutTrading.trading, tradingConfigSchema.parse({}));
  assert.throws(
    () =>
      parseConfigText(
        agentConfigSchema,
        `${text}\n`.replace("maxBuyWh: 10000", "maxBuyWh: -1"),
        "x.yaml",
        {},
      ),
    (e: unknown) => e instanceof ConfigError && /trading\.limits\.maxBuyWh/.test(e.message),
  );
});
