import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PPM } from "../state/arith.js";
import { resolveTradingParams } from "../state/config.js";
import {
  drawAlpha,
  impactFactor,
  initialReputation,
  recordCompletion,
  recordViolation,
  touchActivity,
} from "./reputation.js";

const p = resolveTradingParams({}).rep;
const DAY = 86_400_000;

describe("reputation (HO-TRAD, reconstructed)", () => {
  it("starts at activity 10, reputation 20, active β·10 + δ·20", () => {
    const r = initialReputation(p);
    assert.equal(r.activity, 10 * PPM);
    assert.equal(r.reputation, 20 * PPM);
    assert.equal(r.active, 15 * PPM);
  });

  it("impact factor is min(M/B, 1)", () => {
    assert.equal(impactFactor(250, 1000), 250_000);
    assert.equal(impactFactor(2000, 1000), PPM);
    assert.equal(impactFactor(1, 0), PPM);
  });

  it("α is drawn deterministically in (1, 5)", () => {
    for (let i = 0; i < 200; i++) {
      const a = drawAlpha(`digest-${i}`, "agent", i);
      assert.ok(a > PPM && a < 5 * PPM, String(a));
      assert.equal(a, drawAlpha(`digest-${i}`, "agent", i));
    }
  });

  it("silence of T days lowers activity by α·T, never below 0", () => {
    const r = initialReputation(p);
    touchActivity(r, 0, 2 * PPM, p);
    assert.equal(r.activity, 10 * PPM, "the first trade sets the reference time only");
    touchActivity(r, 3 * DAY + 5, 2 * PPM, p);
    assert.equal(r.activity, 4 * PPM);
    touchActivity(r, 30 * DAY, 4 * PPM, p);
    assert.equal(r.activity, 0);
  });

  it("a violation lowers reputation by 5·(1 + ξ)", () => {
    const r = initialReputation(p);
    recordViolation(r, 500_000, p);
    assert.equal(r.reputation, 20 * PPM - 7_500_000);
  });

  it("damping: a long run of completions raises the active value ever more slowly", () => {
    const r = initialReputation(p);
    const steps: number[] = [];
    for (let i = 0; i < 8; i++) {
      const before = r.active;
      recordCompletion(r, PPM, p);
      steps.push(r.active - before);
    }
    assert.equal(steps[0], PPM, "undamped: β·1 + δ·1");
    assert.ok(steps[7] < steps[2], `steps shrink: ${steps.join(",")}`);
    assert.ok(r.beta >= p.minWeight && r.delta >= p.minWeight);
    // a change of direction restores the configured weights
    recordViolation(r, 0, p);
    assert.equal(r.beta, p.beta);
  });
});
