import assert from "node:assert/strict";
import { test } from "node:test";
import { runScenario } from "../aggregator/consensus/sim/scenarios.js";
import { Simulation } from "../aggregator/consensus/sim/simulator.js";

/*
 * Power cuts in the seeded simulator: a member that loses power loses every write after its last fsync.
 * With the host's group commit ("before-send": a step's votes and blocks are on disk before any of its
 * messages leave) no honest member ever signs two different things for one slot and view; with lazy
 * durability (synchronous=NORMAL, messages sent at once) it does, and the simulator catches it.
 * The 3000-seed sweep is `gridlet bench consensus-powercut`.
 */

/** GRIDLET_SIM_SCALE=10 runs ten times the seeds. */
const SCALE = Math.max(1, Number(process.env.GRIDLET_SIM_SCALE ?? 1) || 1);

function leaderLosesPowerAfterProposing(durability: "before-send" | "lazy") {
  const sim = new Simulation({
    seed: 3,
    n: 4,
    signatures: "sim",
    durability,
    config: { checkpointInterval: 2, window: 3, probeInterval: 6 },
  });
  let cut = false;
  sim.cutPowerAfter = (from, msg) => {
    if (cut || from !== "eag0" || msg.t !== "pp") return undefined;
    cut = true;
    return 20;
  };
  // only eag1 hears the proposal, so the slot is still open when eag0 comes back
  sim.dropIf = (from, to, msg) => from === "eag0" && msg.t === "pp" && to !== "eag1" && sim.powerCuts === 0;
  sim.at(1, () => sim.submit("eag0", { id: "t1", key: "k", add: 1 }));
  sim.at(400, () => sim.submit("eag1", { id: "t2", key: "k", add: 2 }));
  sim.run(5000);
  return sim;
}

test("a leader losing power right after its proposal: with group commit it never proposes again", () => {
  const sim = leaderLosesPowerAfterProposing("before-send");
  assert.equal(sim.powerCuts, 1);
  assert.deepEqual(sim.violations, []);
  // the slot is settled by a view change; the later transaction commits everywhere
  for (const m of sim.members) assert.ok(sim.committedIds(m).has("t2"), `${m} committed t2`);
});

test("the same cut with lazy durability: the leader forgot its proposal and signs another (caught)", () => {
  const sim = leaderLosesPowerAfterProposing("lazy");
  assert.equal(sim.powerCuts, 1);
  const doubles = sim.violations.filter((v) => v.what === "double-vote");
  assert.ok(doubles.length > 0, "the simulator reports the second proposal");
  assert.match(doubles[0].detail, /^eag0 signed (pp|prepare) round 0 index 0 view 0/);
});

test("4 replicas, power cuts (1–3 per victim, up to f victims), lossy network, partitions: 150 seeds", () => {
  let cuts = 0;
  let committed = 0;
  for (let seed = 1; seed <= 150 * SCALE; seed++) {
    const r = runScenario({ seed: 20_000 + seed, n: 4, powerCuts: true, partitions: seed % 3 !== 0 });
    assert.deepEqual(r.violations, [], `seed ${20_000 + seed}: safety violated`);
    assert.deepEqual(r.stalled, [], `seed ${20_000 + seed}: no progress after the heal`);
    cuts += r.powerCuts;
    committed += r.committedAfterHeal;
  }
  assert.ok(cuts >= 150, `only ${cuts} power cuts`);
  assert.ok(committed > 150, `only ${committed} commits after heals`);
});

test("7 replicas with power cuts of up to 2 members: 15 seeds", () => {
  for (let seed = 1; seed <= 15 * SCALE; seed++) {
    const r = runScenario({ seed: 30_000 + seed, n: 7, powerCuts: true, partitions: seed % 2 === 0 });
    assert.deepEqual(r.violations, [], `seed ${30_000 + seed}: safety violated`);
    assert.deepEqual(r.stalled, [], `seed ${30_000 + seed}: no progress after the heal`);
  }
});

test("the check has teeth: lazy durability double-votes on some of 40 seeds", () => {
  let seedsWithDoubles = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const r = runScenario({ seed, n: 4, powerCuts: true, partitions: seed % 3 !== 0, durability: "lazy" });
    if (r.violations.some((v) => v.what === "double-vote")) seedsWithDoubles++;
  }
  assert.ok(seedsWithDoubles > 0, "lazy durability lost a vote on no seed");
});
