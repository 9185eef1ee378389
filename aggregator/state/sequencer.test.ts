import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dueSystemTxs } from "./schedule.js";
import { Sequencer } from "./sequencer.js";
import { createTradingCore } from "./trading.js";
import { orderBody, txs } from "./txs.js";

const AUTH = "agg-1";
const IMS = 900_000;

function market() {
  const s = new Sequencer(
    createTradingCore({ authorities: [AUTH], config: { rewards: { periodIntervals: 2 } } }),
    {
      proposer: AUTH,
    },
  );
  const t = 6 * IMS;
  s.submit(txs.registerWallet("r1", "s", "w-seller-01"), t);
  s.submit(txs.registerWallet("r2", "b", "w-buyer-001"), t);
  s.submit(txs.allocate("a1", AUTH, "w-seller-01"), t);
  s.submit(txs.allocate("a2", AUTH, "w-buyer-001"), t);
  s.submit(txs.meterSummary("m1", "s", 5, 0, 1000), t);
  s.submit(txs.placeOrder("o1", "s", orderBody("w-seller-01", "sell", 10, 500, 100)), t);
  s.submit(txs.placeOrder("o2", "b", orderBody("w-buyer-001", "buy", 10, 500, 300)), t);
  return s;
}

describe("single-node sequencer", () => {
  it("ticks clear at the interval start, settle after the confirmation window, reward after the period", () => {
    const s = market();
    assert.deepEqual(s.tick(10 * IMS - 1), [], "nothing due before the gate closes");
    const cleared = s.tick(10 * IMS);
    assert.equal(cleared.length, 1);
    assert.ok(cleared[0].ok && cleared[0].events.some((e) => e.type === "matched"));
    assert.deepEqual(s.tick(11 * IMS + IMS - 1), [], "settlement waits for the confirmation window");
    s.submit(txs.meterSummary("m2", "s", 10, 0, 500), 11 * IMS);
    const tradeId = [...s.core.state.trades.keys()][0];
    s.submit(txs.confirm("c1", "b", tradeId, 500), 11 * IMS);
    const settled = s.tick(12 * IMS);
    assert.ok(
      settled[0].ok && settled[0].events.some((e) => e.type === "trade-closed" && e.outcome === "delivered"),
    );
    assert.deepEqual(
      dueSystemTxs(s.core.state, 12 * IMS + IMS, AUTH).map((t) => t.id),
      ["sys:reward:5:agg-1"],
    );
    const rewarded = s.tick(13 * IMS);
    assert.ok(rewarded[0].ok && rewarded[0].events[0].type === "reward-paid");
    assert.equal(s.lastHeight, s.lastSeq, "here every block carried one transaction");
  });

  it("counts rejections by code and refuses to go back in height", () => {
    const s = market();
    s.submit(txs.mint("x", "b", "w-buyer-001", 5), 7 * IMS);
    s.submit(txs.mint("x2", "b", "w-buyer-001", 5), 7 * IMS);
    s.submit(txs.cancelOrder("c", "b", "nope"), 7 * IMS);
    assert.deepEqual(Object.fromEntries(s.rejections), { UNAUTHORIZED: 2, UNKNOWN_ORDER: 1 });
    assert.throws(() => s.applyBlock({ height: 1, time: 0, proposer: AUTH, txs: [] }), /not after/);
  });
});
