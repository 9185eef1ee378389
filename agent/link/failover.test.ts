import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FailoverPolicy } from "./failover.js";

const T = { failoverAfterMs: 15_000, homeRetryMs: 60_000 };

test("a broker down for less than the delay is kept; down longer, the next one is used", () => {
  const p = new FailoverPolicy(3, T, 0);
  assert.deepEqual(p.on({ kind: "connected", at: 1000 }), { index: 0 });
  assert.deepEqual(p.on({ kind: "down", at: 2000 }), { index: 0 });
  assert.deepEqual(p.on({ kind: "down", at: 16_999 }), { index: 0 }, "14.999 s is not enough");
  assert.deepEqual(p.on({ kind: "down", at: 17_000 }), {
    index: 1,
    switched: { from: 0, to: 1, reason: "unreachable" },
  });
  assert.equal(p.atHome, false);
});

test("a connect stops the clock: short outages never add up to a fail-over", () => {
  const p = new FailoverPolicy(2, T, 0);
  for (let t = 0; t < 200_000; t += 10_000) {
    assert.equal(p.on({ kind: "down", at: t }).index, 0);
    assert.equal(p.decide(t + 9_000).index, 0);
    p.on({ kind: "connected", at: t + 9_500 });
  }
});

test("round robin: each broker gets its own delay, and after the last comes the home again", () => {
  const p = new FailoverPolicy(3, T, 0);
  p.on({ kind: "down", at: 0 });
  const order: number[] = [];
  for (let t = 0; t <= 60_000; t += 1000) {
    const d = p.decide(t);
    if (d.switched) order.push(d.switched.to);
  }
  assert.deepEqual(order, [1, 2, 0, 1]);
});

test("decide without a down event (reconnect timer) also fails over", () => {
  const p = new FailoverPolicy(2, T, 0);
  p.on({ kind: "down", at: 5000 });
  assert.equal(p.decide(19_999).switched, undefined);
  assert.equal(p.decide(20_000).index, 1);
});

test("away from home the home is probed every homeRetryMs and a successful probe moves back", () => {
  const p = new FailoverPolicy(4, T, 0);
  assert.equal(p.homeProbeDue(100_000), false, "no probe at home");
  p.on({ kind: "down", at: 0 });
  p.decide(15_000);
  p.on({ kind: "connected", at: 15_100 });
  assert.equal(p.current, 1);
  assert.equal(p.homeProbeDue(74_999), false);
  assert.equal(p.homeProbeDue(75_000), true);
  assert.deepEqual(p.on({ kind: "home-probe", up: false, at: 75_000 }), { index: 1 });
  assert.equal(p.homeProbeDue(80_000), false, "a failed probe restarts the wait");
  assert.deepEqual(p.on({ kind: "home-probe", up: true, at: 135_000 }), {
    index: 0,
    switched: { from: 1, to: 0, reason: "home-back" },
  });
  assert.equal(p.homeProbeDue(1_000_000), false);
  // back home, the home's grace starts only with a failure there
  assert.equal(p.decide(1_000_000).index, 0);
});

test("a single broker never switches", () => {
  const p = new FailoverPolicy(1, T, 0);
  p.on({ kind: "down", at: 0 });
  assert.deepEqual(p.decide(10_000_000), { index: 0 });
  assert.throws(() => new FailoverPolicy(0, T, 0), RangeError);
});

test("property: the choice is always a valid index, and it only changes with a switch record", () => {
  const ev = fc.oneof(
    fc.record({ kind: fc.constant("connected" as const), dt: fc.nat(40_000) }),
    fc.record({ kind: fc.constant("down" as const), dt: fc.nat(40_000) }),
    fc.record({ kind: fc.constant("home-probe" as const), up: fc.boolean(), dt: fc.nat(40_000) }),
    fc.record({ kind: fc.constant("decide" as const), dt: fc.nat(40_000) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(ev, { maxLength: 60 }), (n, events) => {
      const p = new FailoverPolicy(n, T, 0);
      let at = 0;
      for (const e of events) {
        at += e.dt;
        const before = p.current;
        const d =
          e.kind === "decide"
            ? p.decide(at)
            : e.kind === "home-probe"
              ? p.on({ kind: e.kind, up: e.up, at })
              : p.on({ kind: e.kind, at });
        assert.ok(d.index >= 0 && d.index < n);
        assert.equal(d.index, p.current);
        if (d.switched) assert.deepEqual([d.switched.from, d.switched.to], [before, d.index]);
        else assert.equal(d.index, before);
        if (d.switched?.reason === "home-back") assert.equal(d.index, 0);
        if (d.switched?.reason === "unreachable") assert.equal(d.index, (before + 1) % n);
      }
    }),
  );
});
