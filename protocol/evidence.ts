import { z } from "#zod";
import { merkleRoot } from "./merkle.js";

/**
 * Metered evidence (docs/PROTOCOL.md, "Metered evidence"): the energy of an interval is the difference of
 * a meter's cumulative registers between two signed readings at the interval's edges, and a summary
 * commits to every signed reading in between by a Merkle root. The agent builds it, the home aggregator
 * rebuilds it from the readings it ingested and refuses a summary that differs, and an auditor rebuilds
 * it from the readings export. One rule, here, for all three.
 */

/** A meter replacement: from `ts` on, the meter's registers start again (agent → aggregator, signed). */
export const MSG_METER_REPLACE = "meter.replace";

const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const meterName = z.string().min(1).max(64);

/** Where a meter's registers stood at one signed reading. */
export const registerPointSchema = z.object({ seq: nat, ts: nat, importWh: nat, exportWh: nat }).strict();

/** One meter's evidence for one interval: the covered readings' count and root, and the edge readings. */
export const meterEvidenceSchema = z
  .object({
    meter: meterName,
    count: z.number().int().min(1).max(1_000_000),
    /** Merkle root (protocol/merkle.ts) over the covered reading envelopes, in (ts, seq) order */
    root: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits"),
    first: registerPointSchema,
    last: registerPointSchema,
  })
  .strict();

export const meterReplaceBodySchema = z
  .object({ meter: meterName, ts: nat, reason: z.string().max(200).default("") })
  .strict();

export type RegisterPoint = z.infer<typeof registerPointSchema>;
export type MeterEvidence = z.infer<typeof meterEvidenceSchema>;
export type MeterReplaceBody = z.infer<typeof meterReplaceBodySchema>;

/** A reading as the evidence rule sees it: its signed envelope and the fields of its body that count. */
export interface EvidenceReading {
  seq: number;
  ts: number;
  meter: string;
  importWh: number;
  exportWh: number;
  /** the signed envelope as a JSON value (its canonical text is the Merkle leaf) */
  envelope: unknown;
}

export const byTsSeq = (a: { ts: number; seq: number }, b: { ts: number; seq: number }): number =>
  a.ts - b.ts || a.seq - b.seq;

/** The start of the meter's register epoch that holds time `t`: its latest replacement at or before t. */
export function epochStart(replacements: readonly number[], t: number): number {
  let start = Number.NEGATIVE_INFINITY;
  for (const r of replacements) if (r <= t && r > start) start = r;
  return start;
}

/**
 * The readings of one meter that cover interval [start, end]: from the last reading at or before
 * `start` (no older than `start − lookbackMs`), or else the first one after it, to the last reading at or
 * before `end`, all within the register epoch that holds `end`. Empty when the meter has none.
 */
export function coveredReadings<R extends { ts: number; seq: number }>(
  readings: readonly R[],
  start: number,
  end: number,
  lookbackMs: number,
  replacements: readonly number[] = [],
): R[] {
  const from = epochStart(replacements, end);
  const rs = readings.filter((r) => r.ts >= from && r.ts >= start - lookbackMs && r.ts <= end).sort(byTsSeq);
  let i = -1;
  for (let k = 0; k < rs.length && rs[k].ts <= start; k++) i = k;
  return rs.slice(Math.max(i, 0));
}

function point(r: EvidenceReading): RegisterPoint {
  return { seq: r.seq, ts: r.ts, importWh: r.importWh, exportWh: r.exportWh };
}

/** The evidence of covered readings (in order, at least one). */
export function meterEvidence(meter: string, covered: readonly EvidenceReading[]): MeterEvidence {
  return {
    meter,
    count: covered.length,
    root: merkleRoot(covered.map((r) => r.envelope)),
    first: point(covered[0]),
    last: point(covered[covered.length - 1]),
  };
}

/**
 * Every meter's evidence for an interval, in meter-name order (meters without covered readings are
 * left out), or an empty list.
 */
export function intervalEvidence(
  readings: readonly EvidenceReading[],
  interval: number,
  intervalMs: number,
  replacements: ReadonlyMap<string, readonly number[]> = new Map(),
): MeterEvidence[] {
  const start = interval * intervalMs;
  const byMeter = new Map<string, EvidenceReading[]>();
  for (const r of readings) {
    const list = byMeter.get(r.meter);
    if (list) list.push(r);
    else byMeter.set(r.meter, [r]);
  }
  const out: MeterEvidence[] = [];
  for (const meter of [...byMeter.keys()].sort()) {
    const covered = coveredReadings(
      byMeter.get(meter)!,
      start,
      start + intervalMs,
      intervalMs,
      replacements.get(meter) ?? [],
    );
    if (covered.length > 0) out.push(meterEvidence(meter, covered));
  }
  return out;
}

/** Energy proven by evidence: the registers' differences, summed over the meters. */
export function evidenceTotals(meters: readonly MeterEvidence[]): {
  importWh: number;
  exportWh: number;
  readings: number;
} {
  let importWh = 0;
  let exportWh = 0;
  let readings = 0;
  for (const m of meters) {
    importWh += m.last.importWh - m.first.importWh;
    exportWh += m.last.exportWh - m.first.exportWh;
    readings += m.count;
  }
  return { importWh, exportWh, readings };
}

/** Why a meter's claimed evidence differs from what the readings at hand give, or undefined if it does not. */
export function evidenceDifference(
  claimed: MeterEvidence,
  actual: MeterEvidence | undefined,
): string | undefined {
  const m = claimed.meter;
  if (actual === undefined) return `meter ${m}: no readings of the interval were received`;
  const p = (x: RegisterPoint) => `seq ${x.seq} at ${x.ts}: ${x.importWh}/${x.exportWh} Wh`;
  for (const edge of ["first", "last"] as const) {
    const a = actual[edge];
    const c = claimed[edge];
    if (a.seq !== c.seq || a.ts !== c.ts || a.importWh !== c.importWh || a.exportWh !== c.exportWh)
      return `meter ${m}: ${edge} reading claimed ${p(c)}, received ${p(a)}`;
  }
  if (actual.count !== claimed.count)
    return `meter ${m}: ${claimed.count} readings claimed, ${actual.count} received`;
  if (actual.root !== claimed.root) return `meter ${m}: the readings' Merkle root differs`;
  return undefined;
}

/**
 * Internal consistency of a summary's evidence (no readings needed): meters in strictly increasing name
 * order, registers that do not run backwards between the edges, and totals equal to the evidence's.
 * Returns the first problem, or undefined.
 */
export function evidenceInconsistency(s: {
  importWh: number;
  exportWh: number;
  readings: number;
  meters: readonly MeterEvidence[];
}): string | undefined {
  for (let i = 0; i < s.meters.length; i++) {
    const m = s.meters[i];
    if (i > 0 && s.meters[i - 1].meter >= m.meter) return "meters must be listed once each, by name";
    if (byTsSeq(m.first, m.last) > 0) return `meter ${m.meter}: the last reading comes before the first`;
    if (m.last.importWh < m.first.importWh || m.last.exportWh < m.first.exportWh)
      return `meter ${m.meter}: registers run backwards between the first and last reading`;
    if ((m.count === 1) !== (m.first.seq === m.last.seq))
      return `meter ${m.meter}: count ${m.count} does not fit the edge readings`;
  }
  const t = evidenceTotals(s.meters);
  if (t.importWh !== s.importWh || t.exportWh !== s.exportWh)
    return `importWh/exportWh ${s.importWh}/${s.exportWh} differ from the evidence's ${t.importWh}/${t.exportWh}`;
  if (t.readings !== s.readings) return `readings ${s.readings} differ from the evidence's ${t.readings}`;
  return undefined;
}
