import assert from "node:assert/strict";
import { test } from "node:test";
import { HORIZON, MAX_FACTOR, Pace } from "./pace.js";

test("the tick starts at the slot timeout and follows two thirds of the recent decisions", () => {
  const p = new Pace(500, 16);
  assert.equal(p.tickMs(), 500, "until there are samples, the slow start");
  for (let i = 0; i < 16; i++) p.observe(20, 10);
  assert.equal(p.tickMs(), 250, "a fast consortium: half the slot timeout at least");
  for (let i = 0; i < 16; i++) p.observe(400, 20);
  assert.equal(p.tickMs(), 800, "a starved one: twice the typical decision");
  for (let i = 0; i < 16; i++) p.observe(60_000, 30);
  assert.equal(p.tickMs(), 500 * MAX_FACTOR, "bounded");
});

test("a slow fifth of the samples (a slow member's slots) does not move the tick", () => {
  const p = new Pace(500, 20);
  for (let i = 0; i < 20; i++) p.observe(i % 5 === 0 ? 5_000 : 200, i);
  assert.equal(p.tickMs(), 400);
  p.observe(Number.NaN, 21);
  p.observe(-1, 21);
  assert.equal(p.tickMs(), 400);
});

test("a stall keeps the tick; old samples age out once fast decisions come back", () => {
  const p = new Pace(60, 16);
  for (let i = 0; i < 16; i++) p.observe(900, 1_000 + i);
  assert.equal(p.tickMs(), 60 * MAX_FACTOR);
  // nothing decided for a long time: a stall is no sign the consortium got faster
  assert.equal(p.tickMs(), 60 * MAX_FACTOR);
  // fast decisions again: the late ones, HORIZON timeouts older, no longer count
  for (let i = 0; i < 8; i++) p.observe(10, 1_015 + HORIZON * 60 + 1);
  assert.equal(p.tickMs(), 30);
});

test("a consortium slower than the tick (every slot changed view) grows the tick out of the storm", () => {
  const p = new Pace(500, 64);
  assert.equal(p.tickMs(), 500);
  // 16 processes starting on two cores: slots decide only after view changes, 3 to 6 s after their start
  for (let i = 0; i < 8; i++) p.observe(3_000 + 400 * i, 10_000 + i);
  assert.equal(p.tickMs(), 500 * MAX_FACTOR, "twice the typical 5 s, bounded");
  // once the rounds flow (about 450 ms a slot), the tick follows them down
  for (let i = 0; i < 64; i++) p.observe(450, 12_000 + i);
  assert.equal(p.tickMs(), 900);
});

test("before there are samples, each give-up doubles the tick (once a tick), up to the bound", () => {
  const p = new Pace(500, 64);
  p.timedOut(1_000);
  assert.equal(p.tickMs(), 1_000);
  p.timedOut(1_500); // a burst of give-ups in one tick counts once
  assert.equal(p.tickMs(), 1_000);
  for (let t = 2_000; t < 400_000; t += 20_000) p.timedOut(t);
  assert.equal(p.tickMs(), 500 * MAX_FACTOR);
  // samples decide as soon as there are enough of them, and give-ups no longer move the tick
  for (let i = 0; i < 8; i++) p.observe(100, 300_000);
  assert.equal(p.tickMs(), 250);
  p.timedOut(400_000);
  assert.equal(p.tickMs(), 250);
});
