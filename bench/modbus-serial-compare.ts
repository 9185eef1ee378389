/**
 * Our Modbus RTU stack (codec + RtuBus + SerialLine) against the modbus-serial library
 * (`connectRTUBuffered`), on the same timing-true SDM630 emulator behind a socat pty at 9600 baud 8N1:
 * - throughput and latency of a 2-register read (the energy counter) and of a whole SDM630 reading (every
 *   block the profile's read plan asks for, one after the other, as the meter driver does);
 * - behaviour under the faults a real RS-485 line shows (a bad CRC, garbage before an answer, a silent
 *   meter): whether the next read succeeds, and what each side reports.
 * docs/METERS.md states the outcome. modbus-serial is loaded only if installed (it is not a dependency):
 *   npm install --no-save modbus-serial && node dist/bench/modbus-serial-compare.js
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { readTransactionMs } from "../agent/meters/codec/modbus-rtu.js";
import { getProfile } from "../agent/meters/profiles/load.js";
import { planProfile } from "../agent/meters/profiles/planner.js";
import { systemClock } from "../agent/meters/transport/clock.js";
import { zeroCounters } from "../agent/meters/transport/modbus-client.js";
import { RtuBus } from "../agent/meters/transport/rtu-bus.js";
import { SerialLine } from "../agent/meters/transport/serial-line.js";
import { silentLogger } from "../protocol/log.js";

const EMULATOR = fileURLToPath(new URL("../hardware/emulators/cli.js", import.meta.url));
const BAUD = 9600;
const LINE = { baud: BAUD, dataBits: 8 as const, parity: "none" as const, stopBits: 1 as const };

/** One read: resolves with the registers or rejects; `name` reports in the output. */
type ReadFn = (address: number, count: number) => Promise<unknown>;
interface Side {
  name: string;
  read: ReadFn;
  close(): Promise<void>;
  /** what the side itself counted, if anything */
  counters(): Record<string, number> | undefined;
}

interface Emulator {
  proc: ChildProcess;
  agent: string;
  fault(line: string): void;
}

async function startEmulator(dir: string): Promise<Emulator> {
  const proc = spawn(
    process.execPath,
    [EMULATOR, "rtu", "--profile", "sdm630", "--pair", dir, "--baud", String(BAUD)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const rl = createInterface({ input: proc.stdout! });
  const ready = await new Promise<{ agent: string }>((resolve, reject) => {
    proc.once("exit", (c) => reject(new Error(`emulator exited with ${c}`)));
    rl.once("line", (l) => resolve(JSON.parse(l) as { agent: string }));
  });
  return { proc, agent: ready.agent, fault: (l) => proc.stdin!.write(`${l}\n`) };
}

async function ourSide(path: string): Promise<Side> {
  const port = new SerialLine({ path, ...LINE }, { clock: systemClock, log: silentLogger });
  const bus = new RtuBus(port, { clock: systemClock, log: silentLogger });
  const c = zeroCounters();
  const timing = { timeoutMs: 1000, delayMs: 0, retries: 0 };
  return {
    name: "gridlet codec (RtuBus)",
    read: (address, count) => bus.readRegisters({ unit: 1, fc: 4, address, count }, timing, c),
    close: () => bus.close(),
    counters: () => ({ timeouts: c.timeouts, crcErrors: c.crcErrors, garbage: c.garbage }),
  };
}

interface ModbusSerialClient {
  connectRTUBuffered(path: string, options: { baudRate: number }): Promise<void>;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readInputRegisters(address: number, count: number): Promise<{ data: number[] }>;
  close(cb: () => void): void;
}

async function libSide(path: string): Promise<Side | string> {
  const name = "modbus-serial";
  let mod: { default: new () => ModbusSerialClient };
  try {
    mod = (await import(name)) as { default: new () => ModbusSerialClient };
  } catch {
    return "modbus-serial is not installed (npm install --no-save modbus-serial)";
  }
  const client = new mod.default();
  await client.connectRTUBuffered(path, { baudRate: BAUD });
  client.setID(1);
  client.setTimeout(1000);
  return {
    name: "modbus-serial (connectRTUBuffered)",
    read: (address, count) => client.readInputRegisters(address, count),
    close: () => new Promise<void>((r) => client.close(() => r())),
    counters: () => undefined,
  };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Reads `blocks` one after the other as fast as answers come, for `seconds`. */
async function throughput(
  side: Side,
  blocks: { address: number; count: number }[],
  seconds: number,
): Promise<Record<string, unknown>> {
  const once = async () => {
    for (const b of blocks) await side.read(b.address, b.count);
  };
  for (let i = 0; i < 5; i++) await once().catch(() => undefined);
  const lat: number[] = [];
  let failed = 0;
  const t0 = systemClock.now();
  while (systemClock.now() - t0 < seconds * 1000) {
    const s = systemClock.now();
    try {
      await once();
      lat.push(systemClock.now() - s);
    } catch {
      failed++;
    }
  }
  const elapsed = (systemClock.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  // the wire limit includes the 3.5-character silence the standard requires between frames
  const wire = blocks.reduce((ms, b) => ms + readTransactionMs(b.count, LINE), 0);
  return {
    requests: blocks.length,
    registers: blocks.reduce((n, b) => n + b.count, 0),
    readsPerSecond: Math.round((lat.length / elapsed) * 10) / 10,
    ratioToWireLimit: Math.round((lat.length / elapsed / (1000 / wire)) * 1000) / 1000,
    p50Ms: Math.round(pct(lat, 50) * 10) / 10,
    p95Ms: Math.round(pct(lat, 95) * 10) / 10,
    failed,
  };
}

/** Injects `fault` for one answer, then reads until one succeeds: what failed first, reads to recover. */
async function faultCase(side: Side, emu: Emulator, fault: string): Promise<Record<string, unknown>> {
  await side.read(0x0048, 2).catch(() => undefined);
  emu.fault(fault);
  await new Promise((r) => setTimeout(r, 100));
  let firstError: string | undefined;
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await side.read(0x0048, 2);
      return { fault, firstError: firstError ?? "none", readsUntilGood: attempt };
    } catch (e) {
      // modbus-serial rejects a timeout with a plain object {name, message, errno}
      const m = (e as { message?: unknown }).message;
      firstError ??= (typeof m === "string" ? m : String(e)).slice(0, 80);
    }
  }
  return { fault, firstError, readsUntilGood: "more than 5" };
}

export async function run(opts: { seconds?: number } = {}): Promise<Record<string, unknown>> {
  const seconds = opts.seconds ?? 5;
  const plan = planProfile(getProfile("sdm630")).map((b) => ({ address: b.address, count: b.count }));
  const results: Record<string, unknown>[] = [];
  let skipped: string | undefined;
  for (const make of [ourSide, libSide]) {
    const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-mbs-"));
    const emu = await startEmulator(dir);
    try {
      const side = await make(emu.agent);
      if (typeof side === "string") {
        skipped = side;
        continue;
      }
      try {
        const energyCounter = await throughput(side, [{ address: 0x0048, count: 2 }], seconds);
        const wholeReading = await throughput(side, plan, seconds);
        const faults = [];
        for (const f of ["bad-crc", "garbage", "silent"]) faults.push(await faultCase(side, emu, f));
        results.push({
          side: side.name,
          energyCounter,
          wholeReading,
          faults,
          counted: side.counters() ?? "nothing",
        });
      } finally {
        await side.close();
      }
    } finally {
      emu.proc.kill("SIGTERM");
      await new Promise((r) => emu.proc.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return {
    benchmark: "modbus-serial-compare",
    baud: BAUD,
    framing: "8N1",
    sdm630Plan: plan,
    results,
    ...(skipped === undefined ? {} : { skipped }),
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
    cores: availableParallelism(),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`bench modbus-serial-compare: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
