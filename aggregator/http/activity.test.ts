import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExecutedBlock } from "../node/node.js";
import type { LedgerEvent } from "../state/events.js";
import { LedgerActivity, MAX_INTERVALS } from "./activity.js";

function block(seq: number, events: LedgerEvent[], o: Partial<ExecutedBlock> = {}): ExecutedBlock {
  return {
    seq,
    round: Math.floor(seq / 4),
    index: seq % 4,
    view: 0,
    time: 1_000_000 + seq,
    proposer: "agg-1",
    at: 1_000_500 + seq,
    replayed: false,
    applied: [{ height: seq, time: 0, type: "sys", from: "agg-1", result: { ok: true, events } }],
    ...o,
  };
}

describe("ledger activity for the dashboard and metrics", () => {
  it("counts trades, settlements, loans and refusals, and keeps the market per interval", () => {
    const latencies: number[] = [];
    const a = new LedgerActivity((s) => latencies.push(s));
    a.add(
      block(0, [
        { type: "order-accepted", orderId: "o1", agent: "a", reservedMc: 5 },
        {
          type: "matched",
          tradeId: "t1",
          interval: 7,
          buyer: "a",
          seller: "b",
          buyOrder: "o1",
          sellOrder: "o2",
          energyWh: 1500,
          priceMcPerKwh: 300,
          paymentMc: 450,
          depositMc: 45,
        },
        {
          type: "interval-cleared",
          interval: 7,
          orders: 2,
          trades: 1,
          volumeWh: 1500,
          clearingPriceMcPerKwh: 300,
        },
      ]),
    );
    a.add(
      block(1, [
        {
          type: "trade-closed",
          tradeId: "t1",
          outcome: "delivered",
          paidWh: 1500,
          paidMc: 450,
          buyerForfeitMc: 0,
          sellerForfeitMc: 0,
          buyer: "a",
          seller: "b",
        },
        { type: "credit.granted", loanId: "L1", sharedWallet: "w", amount: 900 },
      ]),
    );
    a.add({
      ...block(2, []),
      replayed: true,
      applied: [
        {
          height: 2,
          time: 0,
          type: "order",
          from: "a",
          result: { ok: false, code: "INSUFFICIENT_FUNDS", message: "x" },
        },
      ],
    });
    assert.equal(a.blocks, 3);
    assert.equal(a.liveBlocks, 2);
    assert.deepEqual(latencies, [0.5, 0.5], "replayed blocks give no latency");
    assert.equal(a.tradedWh, 1500);
    assert.equal(a.tradedMc, 450);
    assert.equal(a.events.get("order-accepted"), 1);
    assert.deepEqual(Object.fromEntries(a.settlements), { delivered: 1 });
    assert.deepEqual(a.intervals, [
      { interval: 7, orders: 2, trades: 1, volumeWh: 1500, clearingPriceMcPerKwh: 300, time: 1_000_000 },
    ]);
    assert.deepEqual(
      a.recent.map((e) => e.kind),
      ["trade", "settlement", "loan"],
    );
    assert.deepEqual(a.refusals(), [{ type: "order", code: "INSUFFICIENT_FUNDS", count: 1 }]);
  });

  it("keeps a bounded, ordered window of intervals and ignores malformed events", () => {
    const a = new LedgerActivity();
    for (let i = MAX_INTERVALS + 10; i > 0; i--)
      a.add(
        block(i, [
          {
            type: "interval-cleared",
            interval: i,
            orders: 0,
            trades: 0,
            volumeWh: 0,
            clearingPriceMcPerKwh: null,
          },
          // malformed entries are ignored (the union rules them out; a bug must not break the dashboard)
          ...([{ type: "matched", tradeId: 5 }, null] as unknown as LedgerEvent[]),
        ]),
      );
    assert.equal(a.intervals.length, MAX_INTERVALS);
    assert.equal(a.intervals[0].interval, 11);
    assert.equal(a.intervals.at(-1)?.interval, MAX_INTERVALS + 10);
    assert.equal(a.tradedWh, 0);
  });
});
