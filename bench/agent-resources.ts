/**
 * The agent's footprint in service: resident memory and CPU of the agent process reading an emulated
 * SDM630 over a real pseudo-terminal at 9600 baud once per second, storing, signing and publishing to an
 * aggregator (embedded broker, separate process). Targets: RSS < 80 MB, CPU < 1 % of one core.
 * Measured for the service's entry point with the unit's node flags (systemd/gridlet-agent.service), and
 * for `gridlet agent` through the full command line for comparison.
 * Prints one JSON object. Run: node dist/bench/agent-resources.js [seconds]
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { getProfile } from "../agent/meters/profiles/load.js";
import { readStoreCounters } from "../agent/store/agent-store.js";
import { PtyPair } from "../hardware/emulators/pty.js";
import { RtuMeterEmulator } from "../hardware/emulators/rtu.js";
import { fixedState } from "../hardware/emulators/state.js";
import { writeAgentConfig, writeAggregatorConfig } from "./harness/config.js";
import { freePort } from "./harness/net.js";
import { makePki } from "./harness/pki.js";
import {
  AGENT_SERVICE_ENV,
  AGENT_SERVICE_NODE_FLAGS,
  type Proc,
  spawnAgentService,
  spawnGridlet,
} from "./harness/procs.js";

/** GRIDLET_BENCH_NODE_FLAGS replaces the unit's node flags, to compare settings. */
const SERVICE_NODE_FLAGS =
  process.env.GRIDLET_BENCH_NODE_FLAGS !== undefined
    ? process.env.GRIDLET_BENCH_NODE_FLAGS.split(" ").filter((f) => f !== "")
    : AGENT_SERVICE_NODE_FLAGS;

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every platform node runs on here. */
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

async function measure(agent: Proc, storePath: string, seconds: number) {
  try {
    await agent.waitForOutput(/mqtt connected/, 30_000);
    const pid = agent.child.pid!;
    // Past start-up (module loading, JIT warm-up): the steady state is what runs for months.
    await new Promise((r) => setTimeout(r, 5000));
    const t0 = Date.now();
    const c0 = cpuTicks(pid);
    const before = readStoreCounters(storePath).readingsStored;
    let peakRss = rssKb(pid);
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssKb(pid));
    }, 1000);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    clearInterval(sampler);
    const elapsed = (Date.now() - t0) / 1000;
    const cpuSeconds = (cpuTicks(pid) - c0) / CLK_TCK;
    peakRss = Math.max(peakRss, rssKb(pid));
    const counters = readStoreCounters(storePath);
    const cpuPercent = (100 * cpuSeconds) / elapsed;
    const peakMb = peakRss / 1024;
    return {
      seconds: Math.round(elapsed),
      readingsPerSec: Math.round(((counters.readingsStored - before) / elapsed) * 100) / 100,
      outboxDepthAtEnd: counters.outboxDepth,
      rssMbPeak: Math.round(peakMb * 10) / 10,
      rssRatioToLimit: Math.round((peakMb / 80) * 1000) / 1000,
      cpuPercentOfOneCore: Math.round(cpuPercent * 1000) / 1000,
      cpuRatioToLimit: Math.round(cpuPercent * 1000) / 1000,
      meetsTarget: peakMb < 80 && cpuPercent < 1,
    };
  } finally {
    await agent.stop();
  }
}

export async function run(seconds = 30): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-agent-"));
  const pty = await PtyPair.start(dir);
  const emu = await RtuMeterEmulator.start({
    link: pty.meter,
    line: { baud: 9600 },
    devices: [{ unit: 1, profile: getProfile("sdm630"), state: fixedState().get }],
  });
  const pki = makePki(dir, "agg-1", ["agent-1"]);
  const port = await freePort();
  const agg = spawnGridlet([
    "aggregator",
    "--config",
    writeAggregatorConfig(dir, pki, { embeddedPort: port }),
  ]);
  const storePath = join(dir, "agent-1.sqlite");
  try {
    await agg.waitForOutput(/aggregator started/, 30_000);
    const config = writeAgentConfig(dir, pki, 0, {
      url: `mqtt://127.0.0.1:${port}`,
      intervalMs: 1000,
      storePath,
      meters: [
        { id: "sdm630", driver: "modbus-rtu", path: pty.agent, baud: 9600, unitId: 1, profile: "sdm630" },
      ],
    });
    const service = await measure(spawnAgentService(config, SERVICE_NODE_FLAGS), storePath, seconds);
    const cli = await measure(spawnGridlet(["agent", "--config", config]), storePath, seconds);
    return {
      bench: "agent-resources",
      meter: "SDM630, Modbus RTU over a pty at 9600 baud, 1 reading/s",
      rssMbLimit: 80,
      cpuPercentLimit: 1,
      service: {
        entry: "dist/agent/runtime/main.js",
        nodeFlags: SERVICE_NODE_FLAGS.join(" "),
        env: AGENT_SERVICE_ENV,
        ...service,
      },
      cli: { entry: "gridlet agent (dist/cli/main.js), default node flags", ...cli },
      meetsTarget: service.meetsTarget,
    };
  } finally {
    await agg.stop();
    await emu.stop();
    await pty.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const s = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined;
  run(s).then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
