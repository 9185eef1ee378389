import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Tx } from "../aggregator/state/handler.js";
import { dueSystemTxs } from "../aggregator/state/schedule.js";
import { createTradingCore, restoreTradingCore } from "../aggregator/state/trading.js";
import { orderBody, txs } from "../aggregator/state/txs.js";
import type { TradingState } from "../aggregator/state/types.js";
import { LedgerDriver } from "./kits/ledger-driver.js";

// Random sequences of valid and invalid transactions against the invariants of the ledger.
const AUTH = "agg-1";
const AGENTS = ["a0", "a1", "a2", "a3"];
const wallet = (a: number, k: number) => `w-${AGENTS[a]}-000${k}`;

const op = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 0, max: 400_000 }) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("order" as const),
      agent: fc.nat(3),
      w: fc.nat(1),
      buy: fc.boolean(),
      ahead: fc.integer({ min: 0, max: 2 }),
      wh: fc.integer({ min: 1, max: 2000 }),
      price: fc.integer({ min: 0, max: 2100 }),
      maxDeposit: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat(), agent: fc.nat(3) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("meter" as const),
      agent: fc.nat(3),
      back: fc.integer({ min: 0, max: 3 }),
      imp: fc.integer({ min: 0, max: 5000 }),
      exp: fc.integer({ min: 0, max: 5000 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constantFrom("confirm" as const, "cancel-trade" as const, "dispute" as const),
      pick: fc.nat(),
      buyerSide: fc.boolean(),
      wh: fc.integer({ min: 0, max: 5000 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("ruling" as const),
      pick: fc.nat(),
      wh: fc.integer({ min: 0, max: 5000 }),
      fault: fc.constantFrom("none" as const, "seller" as const, "buyer" as const),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("tick" as const) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant("mint" as const),
      agent: fc.nat(3),
      mc: fc.integer({ min: -5, max: 5000 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("replay" as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("garbage" as const), junk: fc.jsonValue() }), weight: 1 },
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function pickTrade(state: TradingState, pick: number) {
  const ids = [...state.trades.keys()].sort();
  return ids.length ? state.trades.get(ids[pick % ids.length])! : null;
}

function toTxs(d: LedgerDriver, o: Op): Tx[] {
  const s = d.core.state;
  const current = Math.floor(d.time / s.params.intervalMs);
  switch (o.kind) {
    case "time":
      d.time += o.ms;
      return [];
    case "order": {
      const w = wallet(o.agent, o.w);
      // bids lean high and asks low so that books cross often; a few bids exceed the price cap
      const price = o.buy ? 500 + (o.price % 1600) : o.price % 1500;
      const body = orderBody(w, o.buy ? "buy" : "sell", current + o.ahead, o.wh, price, o.maxDeposit);
      return [txs.placeOrder(d.nextId(), AGENTS[o.agent], body)];
    }
    case "cancel": {
      const ids = [...s.orders.keys()].sort();
      const id = ids.length ? ids[o.pick % ids.length] : "none";
      return [txs.cancelOrder(d.nextId(), AGENTS[o.agent], id)];
    }
    case "meter":
      return [txs.meterSummary(d.nextId(), AGENTS[o.agent], current - o.back, o.imp, o.exp)];
    case "confirm":
    case "cancel-trade":
    case "dispute": {
      const t = pickTrade(s, o.pick);
      if (!t) return [];
      const who = o.buyerSide ? t.buyer : t.seller;
      if (o.kind === "confirm") return [txs.confirm(d.nextId(), who, t.id, o.wh)];
      if (o.kind === "cancel-trade") return [txs.cancelTrade(d.nextId(), who, t.id)];
      return [txs.dispute(d.nextId(), who, t.id, o.wh, "disagree")];
    }
    case "ruling": {
      const t = pickTrade(s, o.pick);
      return t ? [txs.ruling(d.nextId(), AUTH, t.id, o.wh, o.fault)] : [];
    }
    case "tick":
      return dueSystemTxs(s, d.time, AUTH);
    case "mint":
      return [txs.mint(d.nextId(), AUTH, wallet(o.agent, 0), o.mc)];
    case "replay":
      return d.log.length ? [d.log[o.pick % d.log.length].tx] : [];
    case "garbage":
      return [{ id: d.nextId(), type: "place-order", sender: "a0", body: o.junk }];
    default: {
      const never: never = o;
      return never;
    }
  }
}

function checkInvariants(s: TradingState, expectedSupply: number): void {
  let sum = 0;
  const obligations = new Map<string, number>();
  const add = (w: string, x: number) => obligations.set(w, (obligations.get(w) ?? 0) + x);
  for (const o of s.orders.values()) add(o.wallet, o.reservedMc);
  for (const t of s.trades.values()) {
    add(t.buyerWallet, t.paymentMc + t.depositMc);
    add(t.sellerWallet, t.depositMc);
  }
  for (const w of s.wallets.values()) {
    assert.ok(Number.isSafeInteger(w.balance) && w.balance >= 0, `negative balance in ${w.address}`);
    assert.ok(w.frozen >= 0 && w.frozen <= w.balance, `frozen out of range in ${w.address}`);
    assert.equal(w.frozen, obligations.get(w.address) ?? 0, `frozen ≠ open obligations in ${w.address}`);
    sum += w.balance;
  }
  assert.equal(sum, s.supply, "sum of balances equals supply");
  assert.equal(s.supply, expectedSupply, "supply changes only by mint, allocation and reward");
}

function run(ops: Op[]): LedgerDriver {
  const core = createTradingCore({
    authorities: [AUTH],
    config: { rewards: { amountMc: 700, periodIntervals: 2 } },
  });
  const d = new LedgerDriver(core, AUTH);
  d.time = d.startOf(8) + 1;
  AGENTS.forEach((a, i) => {
    d.agent(a, wallet(i, 0));
    d.ok(txs.registerWallet(d.nextId(), a, wallet(i, 1)));
    // an export history, so that most sell offers are plausible
    d.ok(txs.mint(d.nextId(), AUTH, wallet(i, 1), 5_000));
    for (let k = 4; k < 8; k++) d.ok(txs.meterSummary(d.nextId(), a, k, 0, 2500 + 500 * i));
  });
  let supply = d.core.state.supply;
  for (const o of ops) {
    for (const tx of toTxs(d, o)) {
      const r = d.apply(tx);
      if (r.ok)
        for (const e of r.events)
          if (e.type === "minted" || e.type === "allocated" || e.type === "reward-paid")
            supply += e.amountMc as number;
      checkInvariants(d.core.state, supply);
    }
  }
  // let every open interval clear and settle, and every period pay out, under the same checks
  d.time += 2 * 86_400_000;
  for (let round = 0; round < 3; round++)
    for (const tx of dueSystemTxs(d.core.state, d.time, AUTH)) {
      const r = d.apply(tx);
      if (r.ok) for (const e of r.events) if (e.type === "reward-paid") supply += e.amountMc as number;
      checkInvariants(d.core.state, supply);
    }
  return d;
}

describe("trading ledger properties", () => {
  it("conserves coins, never goes negative, freezes exactly the open obligations", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        run(ops);
      }),
      { numRuns: 150 },
    );
  });

  it("re-execution of the log and restoring a snapshot reproduce the state hash", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const d = run(ops);
        const replica = createTradingCore({
          authorities: [AUTH],
          config: { rewards: { amountMc: 700, periodIntervals: 2 } },
        });
        for (const e of d.log) {
          const r = replica.apply(e.tx, { time: e.time, height: e.height, proposer: AUTH });
          assert.equal(r.ok ? "ok" : r.code, e.result.ok ? "ok" : e.result.code);
        }
        const hash = d.core.stateHash();
        assert.equal(replica.stateHash(), hash);
        const restored = restoreTradingCore(JSON.parse(JSON.stringify(d.core.snapshot())));
        assert.equal(restored.stateHash(), hash);
        // the restored copy keeps behaving the same: settle everything far in the future on both
        const later = d.time + 30 * 86_400_000;
        for (const core of [d.core, restored]) {
          for (let round = 0; round < 3; round++)
            for (const tx of dueSystemTxs(core.state, later, AUTH))
              core.apply(tx, { time: later, height: 1e6, proposer: AUTH });
        }
        assert.equal(restored.stateHash(), d.core.stateHash());
      }),
      { numRuns: 60 },
    );
  });

  it("the generator reaches matches and settlements (the properties are not vacuous)", () => {
    let closed = 0;
    let fills = 0;
    const codes: Record<string, number> = {};
    fc.assert(
      fc.property(fc.array(op, { minLength: 80, maxLength: 120 }), (ops) => {
        const d = run(ops);
        for (const e of d.log) {
          const c = e.result.ok ? `ok:${e.tx.type}` : e.result.code;
          codes[c] = (codes[c] ?? 0) + 1;
        }
        for (const e of d.log)
          if (e.result.ok)
            for (const ev of e.result.events) {
              if (ev.type === "matched") fills++;
              if (ev.type === "trade-closed") closed++;
            }
      }),
      { numRuns: 40, seed: 4 },
    );
    if (process.env.TRADING_STATS) console.log({ fills, closed, codes });
    assert.ok(fills > 0 && closed > 0, `fills ${fills}, closed ${closed}`);
  });
});
