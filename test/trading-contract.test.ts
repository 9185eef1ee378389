import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TradeClosedEvent, TradingEvent } from "../aggregator/state/events.js";
import { incomeSince } from "../aggregator/state/income.js";
import { dueSystemTxs } from "../aggregator/state/schedule.js";
import { createTradingCore } from "../aggregator/state/trading.js";
import { txs } from "../aggregator/state/txs.js";
import { eventOf, LedgerDriver } from "./kits/ledger-driver.js";

// One test per path of the trading contract (HO-TRAD §3.2.3). Buyer bids 1000 Wh at 300 mc/kWh, seller
// asks 1000 Wh at 200 mc/kWh: the uniform price is 250 mc/kWh, the payment 250 mc, each deposit 25 mc.
const AUTH = "agg-1";
const AUTH2 = "agg-2";
const IV = 10;

function setup(config: unknown = {}) {
  const d = new LedgerDriver(createTradingCore({ authorities: [AUTH, AUTH2], config }), AUTH);
  d.time = d.startOf(6);
  const ws = d.agent("seller");
  const wb = d.agent("buyer");
  assert.equal(d.meter("seller", 5, 0, 2000).ok, true);
  d.before(IV);
  assert.equal(d.order("buyer", wb, "buy", IV, 1000, 300).ok, true);
  assert.equal(d.order("seller", ws, "sell", IV, 1000, 200).ok, true);
  const cleared = d.clear(IV);
  const fill = cleared.find((e) => e.type === "matched");
  assert.ok(fill, "a match was made");
  return { d, ws, wb, tradeId: fill.tradeId };
}

function closed(events: TradingEvent[]): TradeClosedEvent {
  const e = events.find((x) => x.type === "trade-closed");
  assert.ok(e, "the trade was closed");
  return e;
}

function assertConserved(d: LedgerDriver): void {
  let sum = 0;
  for (const w of d.core.state.wallets.values()) sum += w.balance;
  assert.equal(sum, d.core.state.supply);
}

describe("trading contract", () => {
  it("locks the payment and both deposits on a match", () => {
    const { d, ws, wb, tradeId } = setup();
    const t = d.core.state.trades.get(tradeId)!;
    assert.equal(t.priceMcPerKwh, 250);
    assert.equal(t.paymentMc, 250);
    assert.equal(t.depositMc, 25);
    assert.deepEqual(d.balance(wb), { balance: 20_000, frozen: 275 });
    assert.deepEqual(d.balance(ws), { balance: 20_000, frozen: 25 });
  });

  it("clean delivery pays the seller and releases both deposits", () => {
    const { d, ws, wb, tradeId } = setup();
    const before = d.core.state.agents.get("seller")!.rep.reputation;
    d.time = d.startOf(IV + 1);
    d.meter("seller", IV, 0, 1000);
    d.meter("buyer", IV, 1000, 0);
    d.ok(txs.confirm(d.nextId(), "buyer", tradeId, 1000));
    const e = closed(d.settle(IV));
    assert.equal(e.outcome, "delivered");
    assert.deepEqual(d.balance(wb), { balance: 19_750, frozen: 0 });
    assert.deepEqual(d.balance(ws), { balance: 20_250, frozen: 0 });
    assert.ok(d.core.state.agents.get("seller")!.rep.reputation > before, "completion raises reputation");
    // the seller's sale income, for the credit bank's "regular income" check
    assert.deepEqual(incomeSince(d.core.state, "seller", 0), [{ time: d.time, amountMc: 250 }]);
    assert.deepEqual(incomeSince(d.core.state, "seller", d.time + 1), []);
    assert.deepEqual(incomeSince(d.core.state, "buyer", 0), []);
    assertConserved(d);
  });

  it("partial delivery settles pro rata and the seller forfeits the undelivered share of its deposit", () => {
    const { d, ws, wb, tradeId } = setup();
    const before = d.core.state.agents.get("seller")!.rep.reputation;
    d.time = d.startOf(IV + 1);
    d.meter("seller", IV, 0, 600);
    d.ok(txs.confirm(d.nextId(), "buyer", tradeId, 600));
    const e = closed(d.settle(IV));
    assert.equal(e.outcome, "partial");
    assert.equal(e.paidMc, 150);
    assert.equal(e.sellerForfeitMc, 10);
    assert.deepEqual(d.balance(wb), { balance: 20_000 - 150 + 10, frozen: 0 });
    assert.deepEqual(d.balance(ws), { balance: 20_000 + 150 - 10, frozen: 0 });
    assert.ok(d.core.state.agents.get("seller")!.rep.reputation < before, "under-delivery is a violation");
    assertConserved(d);
  });

  it("seller no-show: no metered export, the seller's deposit goes to the buyer", () => {
    const { d, ws, wb } = setup();
    const e = closed(d.settle(IV));
    assert.equal(e.outcome, "seller-no-show");
    assert.deepEqual(d.balance(wb), { balance: 20_025, frozen: 0 });
    assert.deepEqual(d.balance(ws), { balance: 19_975, frozen: 0 });
    assertConserved(d);
  });

  it("buyer refuses: delivered but never confirmed, the buyer's deposit goes to the seller", () => {
    const { d, ws, wb } = setup();
    const before = d.core.state.agents.get("buyer")!.rep.reputation;
    d.time = d.startOf(IV + 1);
    d.meter("seller", IV, 0, 1000);
    const e = closed(d.settle(IV));
    assert.equal(e.outcome, "buyer-refused");
    assert.deepEqual(d.balance(wb), { balance: 19_975, frozen: 0 });
    assert.deepEqual(d.balance(ws), { balance: 20_025, frozen: 0 });
    assert.ok(d.core.state.agents.get("buyer")!.rep.reputation < before);
    assertConserved(d);
  });

  it("cancel after match: the cancelling party forfeits its deposit (buyer and seller)", () => {
    const a = setup();
    const ea = a.d.ok(txs.cancelTrade(a.d.nextId(), "buyer", a.tradeId));
    assert.equal(closed(ea).outcome, "cancelled-by-buyer");
    assert.deepEqual(a.d.balance(a.wb), { balance: 19_975, frozen: 0 });
    assert.deepEqual(a.d.balance(a.ws), { balance: 20_025, frozen: 0 });
    // the settled interval then has nothing left to settle
    assert.equal(a.d.settle(IV).filter((e) => e.type === "trade-closed").length, 0);

    const b = setup();
    assert.equal(
      closed(b.d.ok(txs.cancelTrade(b.d.nextId(), "seller", b.tradeId))).outcome,
      "cancelled-by-seller",
    );
    assert.deepEqual(b.d.balance(b.wb), { balance: 20_025, frozen: 0 });
    assert.deepEqual(b.d.balance(b.ws), { balance: 19_975, frozen: 0 });
    assertConserved(a.d);
    assertConserved(b.d);
  });

  it("dispute holds the trade through settlement until the aggregator's signed ruling", () => {
    const { d, ws, wb, tradeId } = setup();
    d.time = d.startOf(IV + 1);
    d.meter("seller", IV, 0, 1000);
    d.ok(txs.dispute(d.nextId(), "buyer", tradeId, 500, "only half arrived"));
    const settled = d.settle(IV);
    assert.equal(
      settled.filter((e) => e.type === "trade-closed").length,
      0,
      "a disputed trade is not settled",
    );
    assert.deepEqual(d.balance(wb), { balance: 20_000, frozen: 275 }, "still locked while disputed");
    // only an aggregator may rule
    const forged = d.apply(txs.ruling(d.nextId(), "buyer", tradeId, 0, "seller"));
    assert.equal(forged.ok ? "ok" : forged.code, "UNAUTHORIZED");
    const ev = closed(d.ok(txs.ruling(d.nextId(), AUTH, tradeId, 800, "seller")));
    assert.equal(ev.outcome, "ruled");
    assert.equal(ev.paidMc, 200);
    assert.deepEqual(d.balance(wb), { balance: 20_000 - 200 + 25, frozen: 0 });
    assert.deepEqual(d.balance(ws), { balance: 20_000 + 200 - 25, frozen: 0 });
    assert.equal(d.core.state.trades.size, 0);
    assertConserved(d);
  });

  it("pay-as-bid charges each buyer its own bid", () => {
    const { d } = setup({ pricing: "pay-as-bid" });
    const t = [...d.core.state.trades.values()][0];
    assert.equal(t.priceMcPerKwh, 300);
    assert.equal(t.paymentMc, 300);
  });

  it("proof-of-flow rewards the seller with the most delivered energy in the period", () => {
    const { d, ws, tradeId } = setup({ rewards: { amountMc: 5_000, periodIntervals: 4 } });
    d.time = d.startOf(IV + 1);
    d.meter("seller", IV, 0, 1000);
    d.ok(txs.confirm(d.nextId(), "buyer", tradeId, 1000));
    d.settle(IV);
    const supply = d.core.state.supply;
    const period = Math.floor(IV / 4);
    const early = d.apply(txs.reward(d.nextId(), AUTH, period));
    assert.equal(early.ok ? "ok" : early.code, "TOO_EARLY");
    d.time = (period + 1) * 4 * d.params.intervalMs + d.params.confirmWindowMs;
    const ev = d.ok(txs.reward(d.nextId(), AUTH, period));
    assert.equal(ev[0].type, "reward-paid");
    assert.equal(ev[0].agent, "seller");
    assert.equal(d.balance(ws).balance, 20_250 + 5_000);
    assert.equal(d.core.state.supply, supply + 5_000);
    assertConserved(d);
  });

  it("proof-of-flow is per home aggregator: each rewards the best of its own sellers", () => {
    const { d, tradeId } = setup({ rewards: { amountMc: 5_000, periodIntervals: 4 } });
    // a second aggregator's seller and buyer trade a smaller amount in the same interval's period
    d.time = d.startOf(6);
    d.proposer = AUTH2;
    const ws2 = d.agent("seller2");
    const wb2 = d.agent("buyer2");
    d.meter("seller2", 5, 0, 2000);
    d.proposer = AUTH;
    assert.equal(d.core.state.agents.get("seller2")!.home, AUTH2);
    d.before(IV + 1);
    d.order("buyer2", wb2, "buy", IV + 1, 300, 300);
    d.order("seller2", ws2, "sell", IV + 1, 300, 200);
    const t2 = eventOf(d.clear(IV + 1), "matched").tradeId;
    d.time = d.startOf(IV + 2);
    d.meter("seller", IV, 0, 1000);
    d.meter("seller2", IV + 1, 0, 300);
    d.ok(txs.confirm(d.nextId(), "buyer", tradeId, 1000));
    d.ok(txs.confirm(d.nextId(), "buyer2", t2, 300));
    d.settle(IV);
    d.settle(IV + 1);
    d.time = 4 * 4 * d.params.intervalMs + d.params.confirmWindowMs;
    const due = dueSystemTxs(d.core.state, d.time, AUTH2);
    assert.deepEqual(
      due.map((t) => t.id),
      ["sys:reward:2:agg-2"],
    );
    const paid2 = d.ok(due[0]);
    assert.equal(
      eventOf(paid2, "reward-paid").agent,
      "seller2",
      "agg-2 rewards its own seller, though seller delivered more",
    );
    const paid1 = d.ok(txs.reward(d.nextId(), AUTH, 2));
    assert.equal(eventOf(paid1, "reward-paid").agent, "seller");
    assert.equal(d.balance(ws2).balance, 20_000 + 75 + 5_000);
    assertConserved(d);
  });
});
