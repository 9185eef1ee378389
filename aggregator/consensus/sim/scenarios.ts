import type { ByzantineBehaviour } from "./byzantine.js";
import type { CpuModel } from "./cpu.js";
import { type NetworkFaults, Simulation, type Violation } from "./simulator.js";

export interface ScenarioOptions {
  seed: number;
  n: number;
  signatures?: "sim" | "ed25519";
  /** crash up to f replicas during the faulty phase and restart them (persisted or empty) */
  crashes?: boolean;
  /**
   * cut the power of up to f replicas, one to three times each, during the faulty phase: every write
   * after the member's last fsync is lost; it comes back from its disk (or stays down)
   */
  powerCuts?: boolean;
  /** when the shell's writes reach the disk (Simulation's `durability`; default "before-send") */
  durability?: "before-send" | "lazy";
  /** split the network during the faulty phase */
  partitions?: boolean;
  byzantine?: ByzantineBehaviour;
  net?: Partial<NetworkFaults>;
  /** transactions submitted during the faulty phase */
  txs?: number;
  faultyMs?: number;
  settleMs?: number;
  /** what work costs (sim/cpu.ts); with `starved`, one honest member (by seed) works that many times slower */
  cpu?: CpuModel;
  starved?: number;
}

export interface ScenarioResult {
  violations: Violation[];
  /** honest, alive replicas (the starved one aside) that did not commit every transaction submitted after the heal */
  stalled: string[];
  committedAfterHeal: number;
  expectedAfterHeal: number;
  checkpoints: number;
  /** view changes started, by all replicas */
  viewChanges: number;
  /** the starved member, if any */
  starved: string | undefined;
  messages: number;
  faultsSeen: number;
  powerCuts: number;
}

/**
 * One seeded run in two phases: a faulty phase (lossy network, crashes, partitions, a Byzantine member)
 * with transactions flowing, then the network heals, crashed replicas come back (at most f stay down),
 * fresh transactions are submitted, and every honest live replica must commit them.
 */
export function runScenario(o: ScenarioOptions): ScenarioResult {
  const f = Math.floor((o.n - 1) / 3);
  const faultyMs = o.faultyMs ?? 1500;
  const settleMs = o.settleMs ?? 10_000;
  const starved = o.starved === undefined ? undefined : `eag${(o.seed + 1) % o.n}`;
  const sim = new Simulation({
    seed: o.seed,
    n: o.n,
    ...(o.cpu === undefined
      ? {}
      : { cpu: { ...o.cpu, ...(starved === undefined ? {} : { slow: { [starved]: o.starved ?? 1 } }) } }),
    signatures: o.signatures ?? "sim",
    net: o.net ?? { drop: 0.1, duplicate: 0.05, minDelayMs: 1, maxDelayMs: 25 },
    byzantine: o.byzantine === undefined ? undefined : { id: `eag${o.seed % o.n}`, behaviour: o.byzantine },
    config: { checkpointInterval: 2, window: 3, probeInterval: 6 },
    durability: o.durability,
  });
  const rng = sim.rng;
  const txs = o.txs ?? 12;
  for (let i = 0; i < txs; i++) {
    const at = rng.int(0, faultyMs);
    const to = rng.pick(sim.members);
    sim.at(at, () => sim.submit(to, { id: `a${i}`, key: `k${i % 3}`, add: 1 }));
  }
  const down = new Set<string>();
  if (o.crashes) {
    const victims = [...sim.honest].sort(() => rng.next() - 0.5).slice(0, rng.int(1, Math.max(1, f)));
    for (const v of victims) {
      const crashAt = rng.int(0, faultyMs - 1);
      sim.at(crashAt, () => sim.crash(v));
      // Some stay down for good (still within f), the others come back persisted or empty.
      const fate = rng.int(0, 2);
      if (fate === 0) down.add(v);
      else sim.at(rng.int(crashAt + 1, faultyMs), () => sim.restart(v, fate === 1 ? "persisted" : "empty"));
    }
  }
  if (o.powerCuts) {
    const victims = [...sim.honest].sort(() => rng.next() - 0.5).slice(0, rng.int(1, Math.max(1, f)));
    for (const v of victims) {
      let t = 0;
      const cuts = rng.int(1, 3);
      for (let c = 0; c < cuts && t < faultyMs - 1; c++) {
        const cutAt = rng.int(t, faultyMs - 1);
        sim.at(cutAt, () => sim.powerCut(v));
        // the last cut of some victims keeps them down for good (still within f)
        if (c === cuts - 1 && rng.int(0, 3) === 0) {
          down.add(v);
          break;
        }
        t = rng.int(cutAt + 1, Math.min(faultyMs, cutAt + 200));
        sim.at(t, () => sim.restart(v, "persisted"));
      }
    }
  }
  if (o.partitions) {
    const start = rng.int(0, faultyMs / 2);
    const shuffled = [...sim.members].sort(() => rng.next() - 0.5);
    const cut = rng.int(1, o.n - 1);
    sim.at(start, () => sim.setPartition([shuffled.slice(0, cut), shuffled.slice(cut)]));
    sim.at(rng.int(start + 1, faultyMs), () => sim.setPartition(null));
  }
  sim.run(faultyMs);
  sim.setPartition(null);
  const live = sim.honest.filter((m) => !down.has(m));
  const fresh: string[] = [];
  live.forEach((m, i) => {
    const id = `b${i}`;
    fresh.push(id);
    sim.at(faultyMs + 1 + i, () => sim.submit(m, { id, key: "after", add: 1 }));
  });
  sim.run(faultyMs + settleMs);
  // a starved member may fall behind for good: the others must not (its safety is still checked)
  const stalled = live
    .filter((m) => m !== starved)
    .filter((m) => {
      const ids = sim.committedIds(m);
      return !fresh.every((id) => ids.has(id));
    });
  let committedAfterHeal = 0;
  for (const m of live) committedAfterHeal += fresh.filter((id) => sim.committedIds(m).has(id)).length;
  let checkpoints = 0;
  for (const m of live) checkpoints += sim.checkpointsOf(m).size;
  return {
    violations: sim.violations,
    stalled,
    committedAfterHeal,
    expectedAfterHeal: fresh.length * live.length,
    checkpoints,
    viewChanges: sim.viewChanges,
    starved,
    messages: sim.messagesSent,
    faultsSeen: sim.faults.length,
    powerCuts: sim.powerCuts,
  };
}
