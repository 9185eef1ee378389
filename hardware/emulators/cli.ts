#!/usr/bin/env node
/**
 * Runs an emulated meter from the shell, for manual tests, the demo and the benchmark.
 *   node dist/hardware/emulators/cli.js rtu --profile sdm630 --link /tmp/p/meter --baud 9600
 *   node dist/hardware/emulators/cli.js rtu --profile sdm630 --pair /tmp/p   (starts socat: /tmp/p/agent)
 *   node dist/hardware/emulators/cli.js tcp --profile em24 --port 1502
 *   node dist/hardware/emulators/cli.js p1 --pair /tmp/p1 --dsmr-version 4
 *   node dist/hardware/emulators/cli.js sml --pair /tmp/sml
 * Prints one JSON line {"ready":true,...} on stdout when serving. Faults are typed on stdin, one per line:
 *   silent [n] | bad-crc [n] | exception CODE [n] | garbage [n] | close [reopenMs]
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { parseMeterLog } from "../../agent/meters/codec/meter-log.js";
import { getProfile } from "../../agent/meters/profiles/load.js";
import { QUANTITIES, type QuantityName } from "../../agent/meters/profiles/schema.js";
import { systemClock } from "../../agent/meters/transport/clock.js";
import type { Fault, FaultQueue } from "./faults.js";
import { PtyPair } from "./pty.js";
import { RtuMeterEmulator } from "./rtu.js";
import { constantPower, fromLog, type StateSource } from "./state.js";
import { StreamEmitter } from "./stream.js";
import { TcpMeterEmulator } from "./tcp.js";

export function parseFault(line: string): { fault: Fault; times: number } | undefined {
  const [cmd, a, b] = line.trim().split(/\s+/);
  const n = (s: string | undefined) => (s === undefined ? 1 : Math.max(1, Number.parseInt(s, 10) || 1));
  switch (cmd) {
    case "silent":
      return { fault: { kind: "silent" }, times: n(a) };
    case "bad-crc":
      return { fault: { kind: "bad-crc" }, times: n(a) };
    case "garbage":
      return { fault: { kind: "garbage" }, times: n(a) };
    case "exception":
      return { fault: { kind: "exception", code: Number.parseInt(a ?? "4", 10) || 4 }, times: n(b) };
    case "close":
      return { fault: { kind: "close", reopenAfterMs: a === undefined ? 1000 : Number(a) }, times: 1 };
    default:
      return undefined;
  }
}

function listenForFaults(q: FaultQueue): void {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (l) => {
    if (l.trim() === "") return;
    const f = parseFault(l);
    if (!f) process.stderr.write(`unknown fault "${l}" (silent|bad-crc|exception CODE|garbage|close [ms])\n`);
    else q.inject(f.fault, f.times);
  });
}

interface Args {
  kind: string;
  profile: string;
  link?: string;
  pair?: string;
  baud?: number;
  unit: number;
  port: number;
  power: number;
  log?: string;
  speed: number;
  refuse: string[];
  instant: boolean;
  interval: number;
  "dsmr-version": number;
}

async function main(): Promise<void> {
  const a = (await yargs(hideBin(process.argv))
    .scriptName("gridlet-emulator")
    .command("$0 <kind>", "serve an emulated meter", (y) =>
      y.positional("kind", { choices: ["rtu", "tcp", "p1", "sml"], demandOption: true }),
    )
    .option("profile", { type: "string", default: "sdm630", describe: "profile name (rtu, tcp)" })
    .option("link", { type: "string", describe: "the emulator's end of an existing pty pair" })
    .option("pair", {
      type: "string",
      describe: "start socat in DIR: DIR/agent for the driver, DIR/meter here",
    })
    .option("baud", {
      type: "number",
      describe: "line speed (default: profile's, 115200 for p1, 9600 for sml)",
    })
    .option("unit", { type: "number", default: 1 })
    .option("port", { type: "number", default: 1502, describe: "TCP port on 127.0.0.1 (tcp)" })
    .option("power", { type: "number", default: 1500, describe: "constant power in W (negative: exporting)" })
    .option("log", { type: "string", describe: "follow a recorded log instead of a constant power" })
    .option("speed", { type: "number", default: 1, describe: "speed of --log" })
    .option("refuse", {
      type: "array",
      string: true,
      default: [],
      describe: "quantities answered with exception 2",
    })
    .option("instant", {
      type: "boolean",
      default: false,
      describe: "answer at once instead of at wire timing",
    })
    .option("interval", { type: "number", default: 1000, describe: "ms between telegrams (p1, sml)" })
    .option("dsmr-version", { type: "number", default: 5, choices: [4, 5] })
    .strict()
    .parseAsync()) as unknown as Args;

  const state: StateSource = a.log
    ? fromLog(parseMeterLog(readFileSync(a.log, "utf8")).rows, a.speed, systemClock)
    : constantPower(a.power, systemClock);
  let pair: PtyPair | undefined;
  let link = a.link;
  if (a.kind !== "tcp" && link === undefined) {
    if (!a.pair) throw new Error("give --link PATH or --pair DIR");
    mkdirSync(a.pair, { recursive: true });
    pair = await PtyPair.start(a.pair);
    link = pair.meter;
  }
  const refuse = a.refuse.filter((q): q is QuantityName => (QUANTITIES as readonly string[]).includes(q));
  let stop: () => Promise<void>;
  let faults: FaultQueue;
  let ready: Record<string, unknown>;
  if (a.kind === "rtu") {
    const profile = getProfile(a.profile);
    const baud = a.baud ?? profile.line.baud;
    const e = await RtuMeterEmulator.start({
      link: link!,
      line: { baud, parity: profile.line.parity, stopBits: profile.line.stopBits },
      devices: [{ unit: a.unit, profile, state, refuse }],
      timingTrue: !a.instant,
    });
    faults = e.faults;
    stop = () => e.stop();
    ready = { ready: true, kind: "rtu", link, agent: pair?.agent, baud, unit: a.unit, profile: profile.name };
  } else if (a.kind === "tcp") {
    const e = await TcpMeterEmulator.start(
      [{ unit: a.unit, profile: getProfile(a.profile), state, refuse }],
      a.port,
    );
    faults = e.faults;
    stop = () => e.stop();
    ready = { ready: true, kind: "tcp", host: "127.0.0.1", port: e.port, unit: a.unit, profile: a.profile };
  } else {
    const kind = a.kind as "p1" | "sml";
    const baud = a.baud ?? (kind === "p1" ? 115200 : 9600);
    const v = a["dsmr-version"] === 4 ? 4 : 5;
    const e = await StreamEmitter.start({
      kind,
      link: link!,
      baud,
      state,
      intervalMs: a.interval,
      dsmrVersion: v,
    });
    faults = e.faults;
    stop = () => e.stop();
    ready = { ready: true, kind, link, agent: pair?.agent, baud, dsmrVersion: kind === "p1" ? v : undefined };
  }
  listenForFaults(faults);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const shutdown = async () => {
    await stop();
    await pair?.kill();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());
}

main().catch((e: unknown) => {
  process.stderr.write(`emulator: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
