import assert from "node:assert/strict";
import { test } from "node:test";

/** GRIDLET_SIM_SCALE=10 runs ten times the seeds (a deeper, slower sweep than CI's). */
const SCALE = Math.max(1, Number(process.env.GRIDLET_SIM_SCALE ?? 1) || 1);

import type { ByzantineBehaviour } from "../aggregator/consensus/sim/byzantine.js";
import { runScenario } from "../aggregator/consensus/sim/scenarios.js";

/*
 * One Byzantine member of 4 (f = 1) on a lossy, reordering network. It runs an honest core underneath and
 * bends what it sends: equivocating proposals, forged votes, proposals and decisions in other members'
 * names, false checkpoints, or withheld proposals and votes. Honest replicas must stay safe and live.
 */

function sweep(behaviour: ByzantineBehaviour, seeds: number, signatures: "sim" | "ed25519", first = 1) {
  let faults = 0;
  for (let seed = first; seed < first + seeds * SCALE; seed++) {
    const r = runScenario({ seed, n: 4, byzantine: behaviour, signatures, partitions: seed % 4 === 0 });
    assert.deepEqual(r.violations, [], `${behaviour}, seed ${seed}: safety violated`);
    assert.deepEqual(r.stalled, [], `${behaviour}, seed ${seed}: honest replicas stopped committing`);
    faults += r.faultsSeen;
  }
  return faults;
}

test("an equivocating leader is caught and its slots decided consistently: 200 seeds", () => {
  const faults = sweep("equivocate", 200, "sim");
  assert.ok(faults > 0, "no replica ever noticed the two proposals");
});

test("forged votes, proposals, decisions and checkpoints change nothing: 200 seeds", () => {
  sweep("forge", 200, "sim");
});

test("a leader that withholds proposals and votes is worked around: 150 seeds", () => {
  sweep("withhold", 150, "sim");
});

test("with real ed25519 signatures: a forger and an equivocator, 8 seeds each", () => {
  sweep("forge", 8, "ed25519", 501);
  const faults = sweep("equivocate", 8, "ed25519", 601);
  assert.ok(faults > 0);
});
