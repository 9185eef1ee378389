import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "#zod";
import { TRADING_ERROR_CODES, type TradingErrorCode } from "../aggregator/state/errors.js";
import { defineHandler, type TradingModule, type Tx } from "../aggregator/state/handler.js";
import { getAgent } from "../aggregator/state/ledger.js";
import { createTradingCore } from "../aggregator/state/trading.js";
import { orderBody, txs } from "../aggregator/state/txs.js";
import { LedgerDriver } from "./kits/ledger-driver.js";

const AUTH = "agg-1";
const IV = 10;

// Stands in for the credit bank: a plug-in module that maintains the blacklist through its own
// transaction type, without touching the built-in dispatch.
const blacklistModule: TradingModule = {
  name: "test-credit",
  handlers: {
    "blacklist-add": defineHandler({
      origin: "authority",
      schema: z.object({ agent: z.string() }).strict(),
      apply(state, tx) {
        getAgent(state, tx.body.agent);
        state.blacklist.add(tx.body.agent);
        return [];
      },
    }),
  },
};

/** A market with a seller (export history), a buyer, and one matched trade in interval IV. */
function world() {
  const d = new LedgerDriver(createTradingCore({ authorities: [AUTH] }, [blacklistModule]), AUTH);
  d.time = d.startOf(6);
  const ws = d.agent("seller");
  const wb = d.agent("buyer");
  const wx = d.agent("other");
  d.meter("seller", 5, 0, 2000);
  d.before(IV);
  d.order("buyer", wb, "buy", IV, 1000, 300);
  d.order("seller", ws, "sell", IV, 1000, 200);
  d.clear(IV);
  const tradeId = [...d.core.state.trades.keys()][0];
  d.before(IV + 2);
  return { d, ws, wb, wx, tradeId };
}

type Case = [TradingErrorCode, (w: ReturnType<typeof world>) => Tx];

const cases: Case[] = [
  [
    "MALFORMED",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", { ...orderBody(wb, "buy", IV + 3, 0, 100) }),
  ],
  ["UNKNOWN_TX_TYPE", ({ d }) => ({ id: d.nextId(), type: "teleport", sender: "buyer", body: {} })],
  ["REPLAY", ({ d }) => d.log[0].tx],
  ["UNAUTHORIZED", ({ d }) => txs.mint(d.nextId(), "buyer", "w-buyer-0001", 1_000_000)],
  ["UNKNOWN_AGENT", ({ d }) => txs.meterSummary(d.nextId(), "stranger", 5, 1, 1)],
  [
    "UNKNOWN_WALLET",
    ({ d }) => txs.placeOrder(d.nextId(), "buyer", orderBody("w-nobody-0001", "buy", IV + 3, 100, 100)),
  ],
  [
    "NOT_WALLET_OWNER",
    ({ d, ws }) => txs.placeOrder(d.nextId(), "buyer", orderBody(ws, "buy", IV + 3, 100, 100)),
  ],
  ["WALLET_TAKEN", ({ d, wb }) => txs.registerWallet(d.nextId(), "other", wb)],
  ["ALREADY_ALLOCATED", ({ d, wb }) => txs.allocate(d.nextId(), AUTH, wb)],
  [
    "INSUFFICIENT_FUNDS",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", orderBody(wb, "buy", IV + 3, 100_000, 2000)),
  ],
  [
    "BLACKLISTED",
    ({ d, wx }) => {
      d.ok({ id: d.nextId(), type: "blacklist-add", sender: AUTH, body: { agent: "other" } });
      return txs.placeOrder(d.nextId(), "other", orderBody(wx, "buy", IV + 3, 100, 100));
    },
  ],
  [
    "INTERVAL_CLOSED",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", orderBody(wb, "buy", IV + 1, 100, 100)),
  ],
  [
    "INTERVAL_TOO_FAR",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", orderBody(wb, "buy", IV + 500, 100, 100)),
  ],
  ["TOO_EARLY", ({ d }) => txs.clear(d.nextId(), AUTH, IV + 5)],
  [
    "PRICE_OUT_OF_RANGE",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", orderBody(wb, "buy", IV + 3, 100, 5000)),
  ],
  [
    "ENERGY_OUT_OF_RANGE",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", orderBody(wb, "buy", IV + 3, 2_000_000, 1)),
  ],
  [
    "EXPORT_NOT_PLAUSIBLE",
    ({ d, ws }) => txs.placeOrder(d.nextId(), "seller", orderBody(ws, "sell", IV + 3, 3001, 100)),
  ],
  [
    "SELF_TRADE",
    ({ d, ws }) => {
      d.ok(txs.placeOrder(d.nextId(), "seller", orderBody(ws, "sell", IV + 3, 100, 100)));
      return txs.placeOrder(d.nextId(), "seller", orderBody(ws, "buy", IV + 3, 100, 100));
    },
  ],
  [
    "DEPOSIT_NOT_AUTHORISED",
    ({ d, wb }) => txs.placeOrder(d.nextId(), "buyer", orderBody(wb, "buy", IV + 3, 1000, 1000, 99)),
  ],
  ["UNKNOWN_ORDER", ({ d }) => txs.cancelOrder(d.nextId(), "buyer", "no-such-order")],
  ["UNKNOWN_TRADE", ({ d }) => txs.confirm(d.nextId(), "buyer", "t0-00000000", 1)],
  [
    "TRADE_NOT_OPEN",
    ({ d, tradeId }) => {
      d.ok(txs.dispute(d.nextId(), "seller", tradeId, 1000, "buyer will not answer"));
      return txs.confirm(d.nextId(), "buyer", tradeId, 1000);
    },
  ],
  ["NOT_TRADE_PARTY", ({ d, tradeId }) => txs.cancelTrade(d.nextId(), "other", tradeId)],
  [
    "ALREADY_CONFIRMED",
    ({ d, tradeId }) => {
      d.ok(txs.confirm(d.nextId(), "buyer", tradeId, 1000));
      return txs.confirm(d.nextId(), "buyer", tradeId, 900);
    },
  ],
  ["NOT_DISPUTED", ({ d, tradeId }) => txs.ruling(d.nextId(), AUTH, tradeId, 1000, "none")],
  ["ALREADY_CLEARED", ({ d }) => txs.clear(d.nextId(), AUTH, IV)],
  ["NOT_CLEARED", ({ d }) => txs.settle(d.nextId(), AUTH, IV + 1)],
  [
    "ALREADY_SETTLED",
    ({ d }) => {
      d.settle(IV);
      return txs.settle(d.nextId(), AUTH, IV);
    },
  ],
  ["DUPLICATE_METER_SUMMARY", ({ d }) => txs.meterSummary(d.nextId(), "seller", 5, 0, 2000)],
  [
    "REWARD_ALREADY_PAID",
    ({ d }) => {
      d.time = 10 * 86_400_000;
      d.ok(txs.reward(d.nextId(), AUTH, 0));
      return txs.reward(d.nextId(), AUTH, 0);
    },
  ],
];

describe("trading rejections", () => {
  it("has a test case for every rejection code", () => {
    assert.deepEqual([...new Set(cases.map((c) => c[0]))].sort(), [...TRADING_ERROR_CODES].sort());
  });

  for (const [code, make] of cases) {
    it(`${code}: rejected with its own code, state unchanged`, () => {
      const w = world();
      const tx = make(w);
      const before = w.d.core.stateHash();
      const r = w.d.apply(tx);
      assert.equal(r.ok, false, `${code} case was accepted`);
      if (r.ok) return;
      assert.equal(r.code, code, r.message);
      assert.ok(r.message.length > 0);
      assert.equal(w.d.core.stateHash(), before, "a rejection leaves the state unchanged");
    });
  }

  it("a rejected transaction id can be used again (it was never applied)", () => {
    const { d, wb } = world();
    const bad = txs.placeOrder("again", "buyer", orderBody(wb, "buy", IV + 3, 100_000, 2000));
    assert.equal(d.apply(bad).ok, false);
    assert.equal(d.apply(txs.placeOrder("again", "buyer", orderBody(wb, "buy", IV + 3, 100, 100))).ok, true);
  });

  it("a module cannot take over an existing transaction type", () => {
    const core = createTradingCore({ authorities: [AUTH] });
    const clash: TradingModule = {
      name: "clash",
      handlers: { mint: blacklistModule.handlers["blacklist-add"] },
    };
    assert.throws(() => core.register(clash), /registered twice/);
  });
});
