import { readFileSync } from "node:fs";
import type { CommandModule } from "yargs";
import { parseMeterLog } from "../../agent/meters/codec/meter-log.js";
import { replayRows } from "../../agent/meters/drivers/replay.js";
import { isMeterError } from "../../agent/meters/errors.js";
import { systemClock } from "../../agent/meters/transport/clock.js";
import { UsageError } from "../exit.js";

interface ReplayArgs {
  file: string;
  speed: number;
  meter: string;
  limit?: number;
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: "replay",
  describe: "play a recorded meter log (docs/METERS.md) as JSON lines, at real time or faster",
  builder: (y) =>
    y
      .option("file", {
        type: "string",
        demandOption: true,
        describe: "CSV log: timestamp,import_kwh,export_kwh,power_w",
      })
      .option("speed", {
        type: "number",
        default: 1,
        describe: "log seconds per real second (60: a minute per second)",
      })
      .option("meter", { type: "string", default: "replay", describe: "meter id put in each reading" })
      .option("limit", { type: "number", describe: "stop after this many readings" })
      .example(
        "$0 replay --file hardware/logs/h1-pv-family.csv --speed 60",
        "a day of readings in 24 minutes",
      )
      .example(
        "$0 replay --file hardware/logs/h3-family.csv --speed 1e9 --limit 5",
        "the first five rows at once",
      ),
  handler: async (a) => {
    if (!(a.speed > 0)) throw new UsageError("USAGE", `--speed must be a positive number, got ${a.speed}`);
    if (a.limit !== undefined && !(Number.isInteger(a.limit) && a.limit >= 0)) {
      throw new UsageError("USAGE", `--limit must be a non-negative integer, got ${a.limit}`);
    }
    let text: string;
    try {
      text = readFileSync(a.file, "utf8");
    } catch (e) {
      throw new UsageError("USAGE", `cannot read --file ${a.file}: ${(e as Error).message}`);
    }
    let rows: ReturnType<typeof parseMeterLog>["rows"];
    try {
      rows = parseMeterLog(text).rows;
    } catch (e) {
      if (isMeterError(e)) throw new UsageError("USAGE", `${a.file}: ${e.message}`);
      throw e;
    }
    let n = 0;
    for await (const r of replayRows(rows, a.speed, systemClock)) {
      if (a.limit !== undefined && n >= a.limit) break;
      process.stdout.write(`${JSON.stringify({ meter: a.meter, ...r })}\n`);
      n++;
    }
  },
};
