#!/usr/bin/env node
/**
 * Writes the recorded meter logs in hardware/logs/: three days at one-minute resolution for each
 * household in households.ts. Deterministic: running it again reproduces the files byte for byte.
 *   node dist/hardware/logs/generate.js [OUT_DIR]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatLogRow, LOG_HEADER } from "../../agent/meters/codec/meter-log.js";
import { generateHousehold, HOUSEHOLDS, type Household } from "./households.js";

export const LOG_START = Date.parse("2026-06-01T00:00:00Z");
export const LOG_DAYS = 3;
export const DEFAULT_LOG_DIR = fileURLToPath(new URL("../../../hardware/logs/", import.meta.url));

export function renderLog(h: Household): string {
  const head = [
    `# gridlet recorded meter log: ${h.name}, ${h.description}`,
    `# synthetic, made by hardware/logs/generate.ts (seed ${h.seed}); see docs/METERS.md`,
    LOG_HEADER,
  ];
  return `${[...head, ...generateHousehold(h, LOG_START, LOG_DAYS).map(formatLogRow)].join("\n")}\n`;
}

export function writeLogs(dir = DEFAULT_LOG_DIR): string[] {
  return HOUSEHOLDS.map((h) => {
    const path = join(dir, `${h.name}.csv`);
    writeFileSync(path, renderLog(h));
    return path;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const p of writeLogs(process.argv[2])) process.stdout.write(`${p}\n`);
}
