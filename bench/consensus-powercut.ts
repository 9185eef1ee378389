/**
 * The power-cut sweep of the consensus simulator (docs/CONSENSUS.md, "Durability"): thousands of seeded
 * runs of 4 members (every seventh run 7) on a lossy network with partitions, up to f members losing
 * power one to three times each (every write after their last fsync lost), with the host's group commit.
 * Counts every safety violation, double votes of honest members included, and runs that stall after the
 * heal. A control sweep with lazy durability (synchronous=NORMAL, votes sent before they are on disk)
 * shows that the check finds what group commit prevents. GRIDLET_POWERCUT_SEEDS sets the number of seeds
 * (default 3000). Prints one JSON object. Run: gridlet bench consensus-powercut
 */
import { runScenario } from "../aggregator/consensus/sim/scenarios.js";

function sweep(seeds: number, durability: "before-send" | "lazy", firstSeed: number) {
  const started = process.hrtime.bigint();
  const violations: Record<string, number> = {};
  const failedSeeds: number[] = [];
  const stalledSeeds: number[] = [];
  let stalled = 0;
  let seedsWithViolations = 0;
  let powerCuts = 0;
  let committedAfterHeal = 0;
  for (let i = 0; i < seeds; i++) {
    const seed = firstSeed + i;
    const n = i % 7 === 6 ? 7 : 4;
    const r = runScenario({ seed, n, powerCuts: true, partitions: i % 3 !== 0, durability });
    for (const v of r.violations) violations[v.what] = (violations[v.what] ?? 0) + 1;
    if (r.violations.length > 0) {
      seedsWithViolations++;
      if (failedSeeds.length < 20) failedSeeds.push(seed);
    }
    if (r.stalled.length > 0) {
      stalled++;
      if (stalledSeeds.length < 20) stalledSeeds.push(seed);
    }
    powerCuts += r.powerCuts;
    committedAfterHeal += r.committedAfterHeal;
  }
  return {
    durability,
    seeds,
    powerCuts,
    committedAfterHeal,
    violations,
    seedsWithViolations,
    firstFailingSeeds: failedSeeds,
    stalledRuns: stalled,
    firstStalledSeeds: stalledSeeds,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const seeds = Math.max(1, Number(process.env.GRIDLET_POWERCUT_SEEDS ?? 3000) || 3000);
  const groupCommit = sweep(seeds, "before-send", 100_000);
  const lazyControl = sweep(Math.min(seeds, 300), "lazy", 100_000);
  return {
    bench: "consensus-powercut",
    groupCommit,
    lazyControl,
    ok: groupCommit.seedsWithViolations === 0 && groupCommit.stalledRuns === 0,
  };
}
