/**
 * The home aggregator's evidence check (aggregator/ingest/evidence.ts) over a real SQLite store with the
 * readings handler: a summary built by the agent's rule from the same signed readings passes; each way
 * of claiming other energy is refused with SUMMARY_MISMATCH and a reason naming it; registers are
 * checked within a meter's epoch.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { MeterLog } from "../../bench/harness/metering.js";
import { type Envelope, signEnvelope } from "../../protocol/envelope.js";
import { type MeterEvidence, meterReplaceBodySchema } from "../../protocol/evidence.js";
import { newKeyMaterial } from "../../protocol/identity.js";
import { type MeterSummaryBody, meterSummaryBodySchema } from "../../protocol/messages/trading.js";
import { readingsHandler } from "./readings.js";

const T = 60_000;
const key = newKeyMaterial("agent-1");

function world() {
  const db = new Database(":memory:");
  const h = readingsHandler(db, 30 * 86_400_000);
  let seq = 0;
  const sign = (type: string, body: unknown, ts: number) =>
    signEnvelope({ type, from: "agent-1", seq: ++seq, ts, body }, key.seed);
  const ingest = (env: Envelope) => {
    const body = h.parse(env.body);
    const refusal = h.refuse?.(db, env, body);
    if (refusal === undefined) h.store(db, env, body, JSON.stringify(env));
    return refusal;
  };
  const replace = (meter: string, ts: number) => {
    const env = sign("meter.replace", { meter, ts, reason: "" }, ts);
    const r = h.evidence.replaceHandler(1);
    r.store(db, env, meterReplaceBodySchema.parse(env.body), JSON.stringify(env));
  };
  const log = new MeterLog(sign);
  const check = (s: unknown) => h.evidence.checkSummary("agent-1", meterSummaryBodySchema.parse(s), T);
  return { db, h, ingest, replace, log, check, sign };
}

const at = (s: MeterSummaryBody, m: Partial<MeterEvidence>): MeterSummaryBody => ({
  ...s,
  meters: [{ ...s.meters[0], ...m }],
});

test("a summary built from the readings ingested passes; other energy is SUMMARY_MISMATCH", () => {
  const w = world();
  for (const env of w.log.interval(10, T, 300, 2_000)) assert.equal(w.ingest(env), undefined);
  const honest = w.log.summary(10, T);
  assert.equal(honest.exportWh, 2_000);
  assert.equal(honest.readings, 3);
  assert.equal(w.check(honest), undefined);

  // the phantom: 50 kWh more at the last reading (consistent with itself, so the schema passes)
  const m = honest.meters[0];
  const phantom = at(
    { ...honest, exportWh: honest.exportWh + 50_000 },
    { last: { ...m.last, exportWh: m.last.exportWh + 50_000 } },
  );
  const r = w.check(phantom);
  assert.equal(r?.code, "SUMMARY_MISMATCH");
  assert.match(
    r!.reason,
    /interval 10: meter m1: last reading claimed seq \d+ at \d+: 1000300\/552000 Wh, received .*502000 Wh/,
  );
  // the right edges but another count, or another root
  assert.match(
    w.check(at({ ...honest, readings: 4 }, { count: 4 }))!.reason,
    /4 readings claimed, 3 received/,
  );
  assert.match(w.check(at(honest, { root: "ab".repeat(32) }))!.reason, /Merkle root differs/);
  // a meter never read, and a meter with readings left out
  const ghost = {
    ...honest,
    meters: [...honest.meters, { ...m, meter: "m9" }],
    importWh: 600,
    exportWh: 4_000,
    readings: 6,
  };
  assert.match(w.check(ghost)!.reason, /meter m9: no readings of the interval were received/);
  for (const env of [w.log.reading("m2", 10 * T + 5_000, 10, 0), w.log.reading("m2", 11 * T, 10, 0)])
    w.ingest(env);
  assert.match(w.check(honest)!.reason, /meter m2 has readings in the interval but is not in the summary/);
  assert.equal(w.check(w.log.summary(10, T)), undefined, "both meters: proven");
});

test("the edges: the last reading at or before the start (one interval back at most), else the first inside", () => {
  const w = world();
  // a reading long before, then two inside interval 20: the old one is out of the lookback
  w.ingest(w.log.reading("m1", 18 * T, 0, 0));
  w.ingest(w.log.reading("m1", 20 * T + 10_000, 0, 700));
  w.ingest(w.log.reading("m1", 21 * T, 0, 300));
  const s = w.log.summary(20, T);
  assert.equal(s.meters[0].first.ts, 20 * T + 10_000);
  assert.equal(s.exportWh, 300, "energy between the readings inside only");
  assert.equal(w.check(s), undefined);
  // a summary reaching back to the old reading claims energy from before the interval
  const back = at(
    { ...s, exportWh: 1_000, readings: 3 },
    {
      count: 3,
      first: { seq: 1, ts: 18 * T, importWh: 1_000_000, exportWh: 500_000 },
    },
  );
  assert.equal(meterSummaryBodySchema.safeParse(back).success, true);
  assert.match(w.check(back)!.reason, /first reading claimed seq 1/);
});

test("registers never run backwards within a meter's epoch; a signed replacement starts a new one", () => {
  const w = world();
  const reading = (ts: number, importWh: number) =>
    w.sign("reading", { meter: "m1", ts, importWh, exportWh: 0, powerMilliW: 0 }, ts);
  assert.equal(w.ingest(reading(30 * T, 1_238_900)), undefined);
  assert.equal(w.ingest(reading(30 * T + 20_000, 1_240_000)), undefined);
  assert.equal(
    w.ingest(reading(30 * T + 10_000, 1_234_100))?.code,
    "REGISTER_BACKWARDS",
    "below the one before",
  );
  assert.equal(
    w.ingest(reading(30 * T + 10_000, 1_250_000))?.code,
    "REGISTER_BACKWARDS",
    "above the one after",
  );
  assert.equal(w.ingest(reading(30 * T + 30_000, 12))?.code, "REGISTER_BACKWARDS");
  w.replace("m1", 30 * T + 30_000);
  assert.equal(w.ingest(reading(30 * T + 30_000, 12)), undefined, "a new meter from the replacement on");
  assert.equal(w.ingest(reading(30 * T + 50_000, 40)), undefined);
  // the interval's evidence lies in the epoch that holds its end: the new meter's 28 Wh
  const rows = w.db.prepare("SELECT envelope FROM readings ORDER BY ts").all() as { envelope: string }[];
  assert.equal(rows.length, 4);
  const ev = w.h.evidence.actualEvidence("agent-1", "m1", 30 * T, 31 * T, T)!;
  assert.deepEqual([ev.count, ev.first.importWh, ev.last.importWh], [2, 12, 40]);
});

test("the summary schema refuses evidence inconsistent with itself", () => {
  const w = world();
  for (const env of w.log.interval(40, T, 100, 0)) w.ingest(env);
  const s = w.log.summary(40, T);
  const m = s.meters[0];
  const bad: [unknown, RegExp][] = [
    [{ ...s, importWh: s.importWh + 1 }, /differ from the evidence's/],
    [{ ...s, readings: 1 }, /readings 1 differ/],
    [at(s, { last: { ...m.last, importWh: m.first.importWh - 1 } }), /run backwards|differ/],
    [at(s, { last: m.first, first: m.last }), /comes before the first/],
    [{ ...s, meters: [m, m], readings: 6, importWh: 200 }, /listed once each/],
    [{ ...s, meters: [] }, />=1 items/],
  ];
  for (const [body, why] of bad) {
    const r = meterSummaryBodySchema.safeParse(body);
    assert.equal(r.success, false, JSON.stringify(body));
    assert.match(r.error!.issues.map((i) => i.message).join("; "), why);
  }
});
