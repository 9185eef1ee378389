/**
 * Modbus RTU throughput against the timing-true emulator (a separate process on the other end of a socat
 * pty pair): two-register reads per second at 9600 baud 8N1, beside the wire limit computed from the
 * timing formula for the same settings (request + gap + answer + gap). Then the meter loop's own cost:
 * CPU and resident memory while reading a full SDM630 profile once a second.
 *   node dist/bench/modbus-rtu.js  → one JSON object on stdout
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { readTransactionMs } from "../agent/meters/codec/modbus-rtu.js";
import { createMeterDriver } from "../agent/meters/factory.js";
import { systemClock } from "../agent/meters/transport/clock.js";
import { zeroCounters } from "../agent/meters/transport/modbus-client.js";
import { RtuBus } from "../agent/meters/transport/rtu-bus.js";
import { SerialLine } from "../agent/meters/transport/serial-line.js";
import { silentLogger } from "../protocol/log.js";

const EMULATOR = fileURLToPath(new URL("../hardware/emulators/cli.js", import.meta.url));
const BAUD = 9600;

async function startEmulator(dir: string): Promise<{ proc: ChildProcess; agent: string }> {
  const proc = spawn(
    process.execPath,
    [EMULATOR, "rtu", "--profile", "sdm630", "--pair", dir, "--baud", String(BAUD)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const rl = createInterface({ input: proc.stdout! });
  const ready = await new Promise<{ agent: string }>((resolve, reject) => {
    proc.once("exit", (c) => reject(new Error(`emulator exited with ${c}`)));
    rl.once("line", (l) => resolve(JSON.parse(l) as { agent: string }));
  });
  return { proc, agent: ready.agent };
}

export async function run(
  opts: { seconds?: number; idleSeconds?: number } = {},
): Promise<Record<string, unknown>> {
  const seconds = opts.seconds ?? 5;
  const idleSeconds = opts.idleSeconds ?? 10;
  const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-rtu-"));
  const { proc, agent } = await startEmulator(dir);
  try {
    const line = { baud: BAUD, dataBits: 8 as const, parity: "none" as const, stopBits: 1 as const };
    const port = new SerialLine({ path: agent, ...line }, { clock: systemClock, log: silentLogger });
    const bus = new RtuBus(port, { clock: systemClock, log: silentLogger });
    const c = zeroCounters();
    // Generous: a loaded machine can stall either process; a lost read is counted, not fatal.
    const timing = { timeoutMs: 1000, delayMs: 0, retries: 1 };
    const req = { unit: 1, fc: 4 as const, address: 0x0048, count: 2 };
    for (let i = 0; i < 20; i++) await bus.readRegisters(req, timing, c);
    const t0 = systemClock.now();
    let reads = 0;
    let failed = 0;
    while (systemClock.now() - t0 < seconds * 1000) {
      try {
        await bus.readRegisters(req, timing, c);
        reads++;
      } catch {
        failed++;
      }
    }
    const elapsed = (systemClock.now() - t0) / 1000;
    await bus.close();
    const perSecond = reads / elapsed;
    const transactionMs = readTransactionMs(2, line);
    const limit = 1000 / transactionMs;

    // The meter loop at one reading per second: a full SDM630 reading (two block reads) each second.
    const driver = createMeterDriver(
      { id: "bench", driver: "modbus-rtu", path: agent, unitId: 1, profile: "sdm630", baud: BAUD },
      { log: silentLogger },
    );
    await driver.read();
    const cpu0 = process.cpuUsage();
    const w0 = systemClock.now();
    let rssMax = 0;
    for (let k = 1; k <= idleSeconds; k++) {
      await driver.read();
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      await systemClock.sleepUntil(w0 + k * 1000);
    }
    const cpu = process.cpuUsage(cpu0);
    const wall = systemClock.now() - w0;
    await driver.close();
    return {
      benchmark: "modbus-rtu",
      baud: BAUD,
      framing: "8N1",
      registersPerRead: 2,
      seconds: Math.round(elapsed * 100) / 100,
      reads,
      readsPerSecond: Math.round(perSecond * 10) / 10,
      wireLimitPerSecond: Math.round(limit * 10) / 10,
      wireTransactionMs: Math.round(transactionMs * 1000) / 1000,
      ratioToWireLimit: Math.round((perSecond / limit) * 1000) / 1000,
      target: 0.9,
      errors: { failedReads: failed, timeouts: c.timeouts, crcErrors: c.crcErrors, garbage: c.garbage },
      loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
      cores: availableParallelism(),
      meterLoop: {
        readingsPerSecond: 1,
        seconds: Math.round(wall / 100) / 10,
        cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 100 * 100) / 100,
        rssMB: Math.round((rssMax / 1024 / 1024) * 10) / 10,
        note: "this process only: meter driver, no MQTT or SQLite; includes the busy-wait that times frame gaps",
      },
    };
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`bench modbus-rtu: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
