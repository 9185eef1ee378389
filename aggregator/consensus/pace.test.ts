import assert from "node:assert/strict";
import { test } from "node:test";
import { HORIZON, MAX_FACTOR, Pace } from "./pace.js";

test("the tick starts at the slot timeout and follows two thirds of the recent decisions", () => {
  const p = new Pace(500, 16);
  assert.equal(p.tickMs(0), 500, "until there are samples, the slow start");
  for (let i = 0; i < 16; i++) p.observe(20, 10);
  assert.equal(p.tickMs(10), 250, "a fast consortium: half the slot timeout at least");
  for (let i = 0; i < 16; i++) p.observe(400, 20);
  assert.equal(p.tickMs(20), 800, "a starved one: twice the typical decision");
  for (let i = 0; i < 16; i++) p.observe(60_000, 30);
  assert.equal(p.tickMs(30), 500 * MAX_FACTOR, "bounded");
});

test("a slow fifth of the samples (a slow member's slots) does not move the tick", () => {
  const p = new Pace(500, 20);
  for (let i = 0; i < 20; i++) p.observe(i % 5 === 0 ? 5_000 : 200, i);
  assert.equal(p.tickMs(20), 400);
  p.observe(Number.NaN, 21);
  p.observe(-1, 21);
  assert.equal(p.tickMs(21), 400);
});

test("old samples age out: after a partition's late decisions, the tick comes back", () => {
  const p = new Pace(60, 16);
  for (let i = 0; i < 16; i++) p.observe(900, 1_000 + i);
  assert.equal(p.tickMs(1_100), 60 * MAX_FACTOR);
  // nothing decided since: once the samples are HORIZON timeouts old, the slow start again
  assert.equal(p.tickMs(1_015 + HORIZON * 60 + 1), 60);
  for (let i = 0; i < 8; i++) p.observe(10, 3_000);
  assert.equal(p.tickMs(3_000), 30);
});
