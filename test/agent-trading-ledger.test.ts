import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MeterReading } from "../agent/meters/types.js";
import { intervalEnergy } from "../agent/trading/energy.js";
import {
  buildConfirmation,
  buildMeterSummary,
  buildOrder,
  type MarketTerms,
  type PricePolicy,
} from "../agent/trading/orders.js";
import { chooseRole } from "../agent/trading/role.js";
import { announceInterval } from "../aggregator/market/announce.js";
import { agentTx } from "../aggregator/node/envelopes.js";
import { fillsFromEvents } from "../aggregator/state/messages.js";
import { createTradingCore } from "../aggregator/state/trading.js";
import { agentView } from "../aggregator/state/views.js";
import { fillSchema, MSG_CONFIRM_DELIVERY } from "../protocol/messages/trading.js";
import { LedgerDriver } from "./kits/ledger-driver.js";

const IMS = 900_000;
const terms: MarketTerms = { intervalMs: IMS, depositPct: 10, maxPriceMcPerKwh: 2000 };
const policy: PricePolicy = {
  sellDiscountPct: 10,
  minSellMcPerKwh: 100,
  buyMarkupPct: 20,
  maxBuyMcPerKwh: 800,
};
const limits = { sellAboveWh: 100, buyAboveWh: 100, maxSellWh: 5000, maxBuyWh: 5000 };

/** Cumulative readings every minute: `impW`/`expW` average power during [fromTs, toTs). */
/** A meter's log, each reading with the sequence number and (stand-in) envelope a summary commits to. */
function readings(
  fromTs: number,
  toTs: number,
  impW: number,
  expW: number,
): (MeterReading & { seq: number; envelope: unknown })[] {
  const out: (MeterReading & { seq: number; envelope: unknown })[] = [];
  for (let ts = fromTs, k = 0; ts <= toTs; ts += 60_000, k++)
    out.push({
      seq: k,
      envelope: { reading: k, ts },
      meter: "m1",
      ts,
      importWh: Math.floor((impW * k) / 60),
      exportWh: Math.floor((expW * k) / 60),
      powerW: impW - expW,
    });
  return out;
}

describe("agent trading (pure)", () => {
  it("chooses its role from recent net energy and limits", () => {
    assert.deepEqual(
      chooseRole(
        [
          { importWh: 100, exportWh: 900 },
          { importWh: 100, exportWh: 700 },
        ],
        limits,
      ),
      {
        role: "seller",
        energyWh: 700,
        netWh: 700,
      },
    );
    assert.equal(chooseRole([{ importWh: 800, exportWh: 0 }], limits).role, "buyer");
    assert.equal(chooseRole([{ importWh: 150, exportWh: 100 }], limits).role, "idle");
    assert.equal(chooseRole([], limits).role, "idle");
    assert.equal(chooseRole([{ importWh: 0, exportWh: 90_000 }], limits).energyWh, 5000, "capped");
  });

  it("measures an interval from cumulative counters", () => {
    const r = readings(9 * IMS, 11 * IMS, 0, 2400);
    const e = intervalEnergy(r, 10, IMS)!;
    assert.equal(e.exportWh, 600, "2.4 kW for 15 min");
    assert.equal(e.readings, 15);
    assert.equal(intervalEnergy(r, 20, IMS)?.exportWh, 0, "no new readings: no energy");
    assert.equal(intervalEnergy(r, 5, IMS), null, "nothing to start from");
  });

  it("builds orders, summaries and confirmations the trading core accepts and settles", () => {
    const AUTH = "agg-1";
    const d = new LedgerDriver(createTradingCore({ authorities: [AUTH] }), AUTH);
    d.time = 6 * IMS;
    const ws = d.agent("pv");
    const wb = d.agent("house");
    const pvLog = readings(0, 20 * IMS, 0, 2400);
    const houseLog = readings(0, 20 * IMS, 2000, 0);
    // history: both agents send their summaries for intervals 1..5
    const pvHist = [1, 2, 3, 4, 5].map((i) => buildMeterSummary(pvLog, i, terms)!);
    const houseHist = [1, 2, 3, 4, 5].map((i) => buildMeterSummary(houseLog, i, terms)!);
    for (const s of pvHist) d.ok({ id: d.nextId(), type: "meter-summary", sender: "pv", body: s });
    for (const s of houseHist) d.ok({ id: d.nextId(), type: "meter-summary", sender: "house", body: s });

    d.before(10);
    const seller = chooseRole(pvHist, limits);
    const buyer = chooseRole(houseHist, limits);
    assert.equal(seller.role, "seller");
    assert.equal(buyer.role, "buyer");
    const ask = buildOrder(ws, seller, announceInterval(d.core.state, 10), policy, terms)!;
    d.ok({ id: d.nextId(), type: "place-order", sender: "pv", body: ask });
    const ann = announceInterval(d.core.state, 10);
    assert.equal(ann.supplyWh, 600);
    const bid = buildOrder(wb, buyer, ann, policy, terms)!;
    // the authorisation is exact: one milli-coin less would be refused
    const short = { ...bid, deposit: { ...bid.deposit, maxDepositMc: bid.deposit.maxDepositMc - 1 } };
    const refused = d.apply({ id: d.nextId(), type: "place-order", sender: "house", body: short });
    assert.equal(refused.ok ? "ok" : refused.code, "DEPOSIT_NOT_AUTHORISED");
    d.ok({ id: d.nextId(), type: "place-order", sender: "house", body: bid });
    const clearing = d.clear(10);
    const matched = clearing.find((e) => e.type === "matched")!;
    const fills = fillsFromEvents(clearing);
    assert.deepEqual(
      fills.map((f) => [f.to, f.fill.side, fillSchema.parse(f.fill).energyWh]),
      [
        ["house", "buy", matched.energyWh],
        ["pv", "sell", matched.energyWh],
      ],
    );
    const view = agentView(d.core.state, "house")!;
    assert.equal(view.openTrades.length, 1);
    assert.equal(view.wallets[0].frozenMc, (matched.paymentMc as number) + (matched.depositMc as number));
    assert.equal(view.reputation.activity, 10_000_000);

    d.time = 11 * IMS + 1;
    d.ok({ id: d.nextId(), type: "meter-summary", sender: "pv", body: buildMeterSummary(pvLog, 10, terms)! });
    d.ok({
      id: d.nextId(),
      type: "meter-summary",
      sender: "house",
      body: buildMeterSummary(houseLog, 10, terms)!,
    });
    const trade = { tradeId: matched.tradeId as string, interval: 10, energyWh: matched.energyWh as number };
    const conf = buildConfirmation(trade, trade.energyWh, houseLog, terms)!;
    assert.equal(conf.receivedWh, trade.energyWh);
    const env = { type: MSG_CONFIRM_DELIVERY, from: "house", seq: 77, body: conf };
    d.ok(agentTx(env)!);
    const again = d.apply(agentTx(env)!);
    assert.equal(again.ok ? "ok" : again.code, "REPLAY", "a re-delivered envelope is a ledger replay");
    const closed = d.settle(10).find((e) => e.type === "trade-closed")!;
    assert.equal(closed.outcome, "delivered");
  });
});
