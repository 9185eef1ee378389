import assert from "node:assert/strict";
import { test } from "node:test";
import type { CpuModel } from "../aggregator/consensus/sim/cpu.js";
import { runScenario, type ScenarioOptions } from "../aggregator/consensus/sim/scenarios.js";
import { Simulation } from "../aggregator/consensus/sim/simulator.js";

/** GRIDLET_SIM_SCALE=10 runs ten times the seeds. */
const SCALE = Math.max(1, Number(process.env.GRIDLET_SIM_SCALE ?? 1) || 1);

/*
 * Liveness under starvation (issue 12): the simulator charges each replica for its work (a step, each
 * signature checked, each made) on its own clock, so messages wait while a replica is busy and leave when
 * its step is done. Safety and liveness sweeps run under that model up to 16 members; a member 30 times
 * slower than the rest must not stall them; a loss-free consortium of 16 busy members makes no view change.
 */
const CPU: CpuModel = { stepMs: 0.05, verifyMs: 0.3, signMs: 0.1 };

function sweep(label: string, seeds: number, make: (seed: number) => ScenarioOptions): void {
  let committed = 0;
  for (let seed = 1; seed <= seeds * SCALE; seed++) {
    const r = runScenario(make(seed));
    assert.deepEqual(r.violations, [], `${label}, seed ${seed}: safety violated`);
    assert.deepEqual(r.stalled, [], `${label}, seed ${seed}: no progress after the heal`);
    committed += r.committedAfterHeal;
  }
  assert.ok(committed > seeds, `${label}: only ${committed} commits after heals`);
}

test("CPU costs, 4 replicas, lossy network, crashes and partitions: 60 seeds", () => {
  sweep("cpu n=4", 60, (seed) => ({
    seed: 20_000 + seed,
    n: 4,
    cpu: CPU,
    crashes: seed % 2 === 0,
    partitions: seed % 3 !== 0,
  }));
});

test("CPU costs, 7 replicas with up to 2 crashed: 8 seeds", () => {
  sweep("cpu n=7", 8, (seed) => ({ seed: 21_000 + seed, n: 7, cpu: CPU, crashes: true }));
});

test("CPU costs, 16 replicas with up to 5 crashed, lossy network: 2 seeds", () => {
  sweep("cpu n=16", 2, (seed) => ({ seed: 22_000 + seed, n: 16, cpu: CPU, crashes: true, txs: 30 }));
});

test("a member 30 times slower than the others does not stall them, nor set off a storm", () => {
  for (let seed = 1; seed <= 4 * SCALE; seed++) {
    const quiet = { drop: 0.01, duplicate: 0, minDelayMs: 1, maxDelayMs: 10 };
    const base = { seed: 23_000 + seed, n: 7, cpu: CPU, net: quiet, txs: 60, faultyMs: 3000, settleMs: 8000 };
    const r = runScenario({ ...base, starved: 30 });
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.deepEqual(r.stalled, [], `seed ${seed}: the others stalled with ${r.starved} starved`);
    // Its slots time out until its lane is passed over, then only in probe rounds: about one view
    // change per member and round of those, not one per slot and tick.
    const healthy = runScenario(base);
    assert.ok(
      r.viewChanges < 40 * 7 && r.viewChanges < 20 * (healthy.viewChanges + 7),
      `seed ${seed}: ${r.viewChanges} view changes with a starved member (${healthy.viewChanges} without)`,
    );
  }
});

test("16 busy members on a loss-free network decide every slot in its first view", () => {
  const n = 16;
  const sim = new Simulation({
    seed: 5,
    n,
    signatures: "sim",
    net: { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 10 },
    config: { checkpointInterval: 2, window: 3 },
    cpu: CPU,
  });
  for (let i = 0; i < 40; i++)
    sim.at(i * 50, () => sim.submit(`eag${i % n}`, { id: `t${i}`, key: "k", add: 1 }));
  sim.run(4_000);
  assert.deepEqual(sim.violations, []);
  assert.equal(sim.viewChanges, 0, "a view change without a fault");
  assert.ok(sim.committedIds("eag7").has("t39"));
  // and each member's work per round is O(n) signature checks, not O(n²)
  const rounds = sim.replica("eag7").store.length / n;
  const perRound = sim.work("eag7").verifies / rounds;
  assert.ok(perRound <= 4 * n, `${perRound.toFixed(1)} signature checks per round at n = ${n}`);
});
