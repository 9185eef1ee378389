import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import type { CommandModule } from "yargs";
import { parse as parseYaml } from "#yaml";
import { formatLogRow, LOG_HEADER, type LogRow } from "../../agent/meters/codec/meter-log.js";
import { isMeterError } from "../../agent/meters/errors.js";
import { createMeterDriver } from "../../agent/meters/factory.js";
import { systemClock } from "../../agent/meters/transport/clock.js";
import type { MeterDriver } from "../../agent/meters/types.js";
import { describeError } from "../../protocol/errors.js";
import { UsageError } from "../exit.js";

interface RecordArgs {
  out: string;
  interval: number;
  count?: number;
  config?: string;
  meter?: string;
  rtu?: string;
  tcp?: string;
  dsmr?: string;
  sml?: string;
  replay?: string;
  profile?: string;
  unit?: number;
  baud?: number;
  parity?: string;
  "dsmr-version"?: number;
  speed?: number;
}

/** The meter configuration entry the flags describe (same shape as a `meters:` entry). */
export function meterEntryFromArgs(a: RecordArgs): Record<string, unknown> {
  const chosen = (["config", "rtu", "tcp", "dsmr", "sml", "replay"] as const).filter(
    (k) => a[k] !== undefined,
  );
  if (chosen.length !== 1) {
    throw new UsageError(
      "USAGE",
      "choose one meter: --config FILE --meter ID, --rtu, --tcp, --dsmr, --sml or --replay",
    );
  }
  const line = {
    ...(a.baud !== undefined && { baud: a.baud }),
    ...(a.parity !== undefined && { parity: a.parity }),
  };
  const needProfile = () => {
    if (!a.profile) throw new UsageError("USAGE", "--rtu and --tcp need --profile (e.g. sdm630)");
    return a.profile;
  };
  const kind = chosen[0]!;
  switch (kind) {
    case "config": {
      if (!a.meter) throw new UsageError("USAGE", "--config needs --meter ID");
      let doc: unknown;
      try {
        doc = parseYaml(readFileSync(a.config!, "utf8"));
      } catch (e) {
        throw new UsageError("CONFIG", `cannot read ${a.config}: ${(e as Error).message}`);
      }
      const meters = (doc as { meters?: unknown })?.meters;
      const entry = Array.isArray(meters) ? meters.find((m) => m?.id === a.meter) : undefined;
      if (!entry) throw new UsageError("CONFIG", `${a.config}: no meter with id "${a.meter}" under meters:`);
      return entry;
    }
    case "rtu":
      return {
        id: "meter",
        driver: "modbus-rtu",
        path: a.rtu,
        unitId: a.unit ?? 1,
        profile: needProfile(),
        ...line,
      };
    case "tcp": {
      const m = /^(.+):(\d+)$/.exec(a.tcp!);
      return {
        id: "meter",
        driver: "modbus-tcp",
        host: m ? m[1] : a.tcp,
        port: m ? Number(m[2]) : 502,
        unitId: a.unit ?? 1,
        profile: needProfile(),
      };
    }
    case "dsmr":
      return { id: "meter", driver: "dsmr", path: a.dsmr, dsmrVersion: a["dsmr-version"] ?? 5, ...line };
    case "sml":
      return { id: "meter", driver: "sml", path: a.sml, ...line };
    case "replay":
      return {
        id: "meter",
        driver: "replay",
        file: a.replay,
        speed: a.speed ?? 1,
        loop: false,
        timestamps: "log",
      };
  }
}

export const recordCommand: CommandModule<object, RecordArgs> = {
  command: "record",
  describe: "read a live meter at an interval and write a recorded log (docs/METERS.md)",
  builder: (y) =>
    y
      .option("out", {
        type: "string",
        demandOption: true,
        describe: "CSV log to write (appended to if it exists)",
      })
      .option("interval", { type: "number", default: 60, describe: "seconds between readings" })
      .option("count", { type: "number", describe: "stop after this many rows (default: until Ctrl-C)" })
      .option("config", { type: "string", describe: "YAML configuration with a meters: list" })
      .option("meter", { type: "string", describe: "id of the meter in --config" })
      .option("rtu", { type: "string", describe: "Modbus RTU serial port (e.g. /dev/serial/by-id/...)" })
      .option("tcp", { type: "string", describe: "Modbus TCP HOST:PORT" })
      .option("dsmr", { type: "string", describe: "DSMR P1 serial port" })
      .option("sml", { type: "string", describe: "SML serial port (optical head)" })
      .option("replay", { type: "string", describe: "another recorded log (to resample it)" })
      .option("profile", { type: "string", describe: "meter profile for --rtu/--tcp (hardware/profiles)" })
      .option("unit", { type: "number", describe: "Modbus unit id (default 1)" })
      .option("baud", { type: "number", describe: "override the profile's baud rate" })
      .option("parity", { type: "string", choices: ["none", "even", "odd"], describe: "override the parity" })
      .option("dsmr-version", { type: "number", choices: [4, 5], describe: "4: 115200 7E1, 5: 115200 8N1" })
      .option("speed", { type: "number", describe: "speed of --replay" })
      .example(
        "$0 record --rtu /dev/ttyUSB0 --profile sdm630 --unit 1 --out house.csv",
        "an SDM630, one row a minute",
      )
      .example(
        "$0 record --config agent.yaml --meter grid --interval 10 --count 360 --out grid.csv",
        "an hour at 10 s",
      )
      .example("$0 record --dsmr /dev/ttyUSB1 --dsmr-version 4 --out p1.csv", "a DSMR 4 meter's P1 port"),
  handler: async (a) => {
    if (!(a.interval > 0)) throw new UsageError("USAGE", `--interval must be positive, got ${a.interval}`);
    if (a.count !== undefined && !(Number.isInteger(a.count) && a.count >= 0)) {
      throw new UsageError("USAGE", `--count must be a non-negative integer, got ${a.count}`);
    }
    let driver: MeterDriver;
    try {
      driver = createMeterDriver(meterEntryFromArgs(a));
    } catch (e) {
      if (isMeterError(e)) throw new UsageError("CONFIG", e.message);
      throw e;
    }
    if (!existsSync(a.out) || readFileSync(a.out, "utf8").trim() === "") {
      writeFileSync(a.out, `# recorded by gridlet record from meter ${driver.id}\n${LOG_HEADER}\n`);
    } else if (!readFileSync(a.out, "utf8").includes(LOG_HEADER)) {
      throw new UsageError("USAGE", `${a.out} exists and is not a meter log`);
    }
    let stop = false;
    const onSigint = () => {
      stop = true;
    };
    process.once("SIGINT", onSigint);
    let last: LogRow | undefined;
    let rows = 0;
    const start = systemClock.now();
    try {
      for (let k = 0; !stop && (a.count === undefined || rows < a.count); k++) {
        await systemClock.sleepUntil(start + k * a.interval * 1000);
        try {
          const r = await driver.read();
          const row: LogRow = { ts: r.ts, importWh: r.importWh, exportWh: r.exportWh, powerW: r.powerW };
          // The format promises rising timestamps and counters; a meter reset or a clock step is skipped, said once.
          if (last && (row.ts <= last.ts || row.importWh < last.importWh || row.exportWh < last.exportWh)) {
            process.stderr.write(
              `gridlet record: skipped a reading that goes backwards (${formatLogRow(row)})\n`,
            );
            continue;
          }
          appendFileSync(a.out, `${formatLogRow(row)}\n`);
          last = row;
          rows++;
        } catch (e) {
          if (isMeterError(e, "END_OF_LOG")) break;
          process.stderr.write(`gridlet record: read failed: ${describeError(e)}\n`);
        }
      }
    } finally {
      process.off("SIGINT", onSigint);
      await driver.close();
    }
    process.stderr.write(`gridlet record: ${rows} rows written to ${a.out}\n`);
  },
};
