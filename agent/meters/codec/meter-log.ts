/**
 * Recorded meter logs (docs/METERS.md): CSV with the header `timestamp,import_kwh,export_kwh,power_w`,
 * timestamps ISO-8601 UTC ending in Z, energy in kWh with up to three decimals (exact Wh), power in W.
 * Lines starting with # before the header are comments (what the log is, how it was made).
 */
import { MeterError } from "../errors.js";
import { decimalToMilli } from "./decimal.js";

export const LOG_HEADER = "timestamp,import_kwh,export_kwh,power_w";

export interface LogRow {
  ts: number;
  importWh: number;
  exportWh: number;
  powerW: number;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function fail(line: number, msg: string): never {
  throw new MeterError("LOG_INVALID", `line ${line}: ${msg}`, { line });
}

/** Parses a whole log; throws LOG_INVALID naming the line. Counters must not run backwards. */
export function parseMeterLog(text: string): { rows: LogRow[]; comments: string[] } {
  const lines = text.split(/\r?\n/);
  const comments: string[] = [];
  let i = 0;
  while (i < lines.length && lines[i].startsWith("#")) comments.push(lines[i++].slice(1).trim());
  if (lines[i]?.trim() !== LOG_HEADER) fail(i + 1, `expected header "${LOG_HEADER}"`);
  const rows: LogRow[] = [];
  for (i++; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === "") continue;
    const f = l.split(",");
    if (f.length !== 4) fail(i + 1, `expected 4 fields, got ${f.length}`);
    if (!ISO_UTC.test(f[0])) fail(i + 1, `timestamp "${f[0].slice(0, 40)}" is not ISO-8601 UTC (…Z)`);
    const ts = Date.parse(f[0]);
    if (!Number.isFinite(ts)) fail(i + 1, `timestamp "${f[0]}" is not a valid date`);
    let importWh: number;
    let exportWh: number;
    try {
      importWh = decimalToMilli(f[1]);
      exportWh = decimalToMilli(f[2]);
    } catch {
      fail(i + 1, "energy is not a decimal number of kWh");
    }
    const powerW = Number(f[3]);
    if (f[3] === "" || !Number.isFinite(powerW)) fail(i + 1, `power "${f[3]}" is not a number`);
    const prev = rows[rows.length - 1];
    if (prev) {
      if (ts <= prev.ts) fail(i + 1, "timestamps must increase");
      if (importWh < prev.importWh || exportWh < prev.exportWh)
        fail(i + 1, "energy counters must not decrease");
    }
    if (importWh < 0 || exportWh < 0) fail(i + 1, "energy counters must not be negative");
    rows.push({ ts, importWh, exportWh, powerW });
  }
  if (rows.length === 0) fail(lines.length, "log has no rows");
  return { rows, comments };
}

function kwh(wh: number): string {
  return `${Math.floor(wh / 1000)}.${String(wh % 1000).padStart(3, "0")}`;
}

export function formatLogRow(r: LogRow): string {
  return `${new Date(r.ts).toISOString().replace(".000Z", "Z")},${kwh(r.importWh)},${kwh(r.exportWh)},${Math.round(r.powerW * 10) / 10}`;
}
