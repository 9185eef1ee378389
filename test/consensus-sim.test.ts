import assert from "node:assert/strict";
import { test } from "node:test";

/** GRIDLET_SIM_SCALE=10 runs ten times the seeds (a deeper, slower sweep than CI's). */
const SCALE = Math.max(1, Number(process.env.GRIDLET_SIM_SCALE ?? 1) || 1);

import { runScenario, type ScenarioOptions } from "../aggregator/consensus/sim/scenarios.js";

/*
 * Safety and liveness of the multi-leader PBFT core over many seeded runs. Each run loses 10 % of
 * messages, duplicates 5 %, delays and reorders the rest, and (by seed) crashes up to f replicas — some
 * stay down, some restart with their state, some restart empty and catch up — and partitions the network.
 * Safety: no two honest replicas commit different blocks at one position, and their checkpoint state
 * hashes agree. Liveness: after the heal, a transaction submitted at every live replica commits everywhere.
 */

function sweep(label: string, seeds: number, make: (seed: number) => ScenarioOptions): void {
  let checkpoints = 0;
  let committed = 0;
  for (let seed = 1; seed <= seeds * SCALE; seed++) {
    const r = runScenario(make(seed));
    assert.deepEqual(r.violations, [], `${label}, seed ${seed}: safety violated`);
    assert.deepEqual(r.stalled, [], `${label}, seed ${seed}: no progress after the heal`);
    checkpoints += r.checkpoints;
    committed += r.committedAfterHeal;
  }
  // The runs really reached checkpoints and commits; a run that did nothing would pass vacuously.
  assert.ok(checkpoints > seeds, `${label}: only ${checkpoints} checkpoints in ${seeds} runs`);
  assert.ok(committed > seeds, `${label}: only ${committed} commits after heals`);
}

test("4 replicas, lossy network, up to f crashes and restarts, partitions: 500 seeds", () => {
  sweep("n=4", 500, (seed) => ({ seed, n: 4, crashes: seed % 2 === 0, partitions: seed % 3 !== 0 }));
});

test("7 replicas with up to 2 crashed and partitions: 25 seeds", () => {
  sweep("n=7", 25, (seed) => ({ seed: 10_000 + seed, n: 7, crashes: true, partitions: seed % 2 === 0 }));
});

test("a quiet network commits every transaction once, in the same order everywhere", () => {
  const r = runScenario({
    seed: 7,
    n: 4,
    net: { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5 },
    txs: 40,
  });
  assert.deepEqual(r.violations, []);
  assert.equal(r.committedAfterHeal, r.expectedAfterHeal);
});
