import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type BookEntry, clearInterval } from "./clearing.js";

const entry = (ref: number, price: number, wh: number, active = 0, reputation = 0, seq = ref): BookEntry => ({
  ref,
  priceMcPerKwh: price,
  energyWh: wh,
  active,
  reputation,
  seq,
});

describe("double auction clearing", () => {
  it("gives a contested quantity at the same price to the highest active reputation value", () => {
    const bids = [entry(1, 300, 100, 10, 50, 1), entry(2, 300, 100, 20, 10, 2)];
    const r = clearInterval(bids, [entry(9, 100, 100)], "uniform");
    assert.deepEqual(
      r.matches.map((m) => m.bid),
      [2],
    );
  });

  it("then to the higher reputation value, then to the earlier order", () => {
    const byRep = clearInterval(
      [entry(1, 300, 100, 20, 10, 1), entry(2, 300, 100, 20, 30, 2)],
      [entry(9, 100, 100)],
      "uniform",
    );
    assert.equal(byRep.matches[0].bid, 2);
    const bySeq = clearInterval(
      [entry(1, 300, 100, 20, 30, 7), entry(2, 300, 100, 20, 30, 3)],
      [entry(9, 100, 100)],
      "uniform",
    );
    assert.equal(bySeq.matches[0].bid, 2);
    // the same rule among sellers competing for limited demand
    const asks = clearInterval(
      [entry(1, 300, 100)],
      [entry(8, 100, 100, 5, 5, 1), entry(9, 100, 100, 6, 0, 2)],
      "uniform",
    );
    assert.equal(asks.matches[0].ask, 9);
  });

  it("a better price beats a better reputation", () => {
    const r = clearInterval(
      [entry(1, 300, 100, 99, 99), entry(2, 301, 100, 0, 0)],
      [entry(9, 100, 100)],
      "uniform",
    );
    assert.equal(r.matches[0].bid, 2);
  });

  it("uniform price is the midpoint of the marginal pair; pay-as-bid charges the bid", () => {
    const mk = () => ({
      bids: [entry(1, 500, 100), entry(2, 300, 100)],
      asks: [entry(8, 100, 150), entry(9, 250, 100)],
    });
    const u = mk();
    const r = clearInterval(u.bids, u.asks, "uniform");
    assert.equal(r.volumeWh, 200);
    assert.equal(r.clearingPriceMcPerKwh, 275);
    assert.ok(r.matches.every((m) => m.priceMcPerKwh === 275));
    const b = mk();
    const pab = clearInterval(b.bids, b.asks, "pay-as-bid");
    assert.deepEqual(
      pab.matches.map((m) => [m.bid, m.priceMcPerKwh]),
      [
        [1, 500],
        [2, 300],
        [2, 300],
      ],
    );
  });

  it("no match when the best bid is below the best ask", () => {
    const r = clearInterval([entry(1, 100, 100)], [entry(2, 101, 100)], "uniform");
    assert.deepEqual(r, { matches: [], clearingPriceMcPerKwh: null, volumeWh: 0 });
  });

  it("property: matches respect limits and quantities, and no crossing pair is left unmatched", () => {
    const side = fc.array(
      fc.record({
        price: fc.integer({ min: 0, max: 50 }),
        wh: fc.integer({ min: 1, max: 20 }),
        active: fc.nat(5),
      }),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(side, side, fc.constantFrom("uniform" as const, "pay-as-bid" as const), (b, a, mode) => {
        const bids = b.map((x, i) => entry(i, x.price, x.wh, x.active));
        const asks = a.map((x, i) => entry(1000 + i, x.price, x.wh, x.active));
        const byRef = new Map([...bids, ...asks].map((e) => [e.ref, { ...e }]));
        const r = clearInterval(bids, asks, mode);
        const used = new Map<number, number>();
        for (const m of r.matches) {
          const bid = byRef.get(m.bid)!;
          const ask = byRef.get(m.ask)!;
          assert.ok(m.energyWh > 0);
          assert.ok(m.priceMcPerKwh <= bid.priceMcPerKwh && m.priceMcPerKwh >= ask.priceMcPerKwh);
          used.set(m.bid, (used.get(m.bid) ?? 0) + m.energyWh);
          used.set(m.ask, (used.get(m.ask) ?? 0) + m.energyWh);
        }
        for (const [ref, q] of used) assert.ok(q <= byRef.get(ref)!.energyWh);
        const leftBids = [...byRef.values()].filter(
          (e) => e.ref < 1000 && (used.get(e.ref) ?? 0) < e.energyWh,
        );
        const leftAsks = [...byRef.values()].filter(
          (e) => e.ref >= 1000 && (used.get(e.ref) ?? 0) < e.energyWh,
        );
        const bestBid = Math.max(-1, ...leftBids.map((e) => e.priceMcPerKwh));
        const bestAsk = Math.min(Number.MAX_SAFE_INTEGER, ...leftAsks.map((e) => e.priceMcPerKwh));
        assert.ok(bestBid < bestAsk, "a crossing bid and ask were both left with quantity");
      }),
      { numRuns: 300 },
    );
  });
});
