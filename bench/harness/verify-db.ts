import Database from "better-sqlite3";
import { EnvelopeVerifier, MemorySequenceStore } from "../../protocol/envelope.js";
import { TrustStore } from "../../protocol/identity.js";
import type { TestPki } from "./pki.js";

export interface AggregatorReading {
  sender: string;
  seq: number;
  meter: string;
  ts: number;
  importWh: number;
  envelope: string;
}

export function aggregatorReadings(path: string): AggregatorReading[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], AggregatorReading>(
        "SELECT sender, seq, meter, ts, import_wh AS importWh, envelope FROM readings ORDER BY sender, seq",
      )
      .all();
  } finally {
    db.close();
  }
}

/** How many readings the aggregator's store holds: cheap enough to poll while it ingests. */
export function aggregatorReadingCount(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM readings").get()!.n;
  } finally {
    db.close();
  }
}

export function agentReadings(path: string): { seq: number; meter: string; ts: number; importWh: number }[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], { seq: number; meter: string; ts: number; importWh: number }>(
        "SELECT seq, meter, ts, import_wh AS importWh FROM readings ORDER BY seq",
      )
      .all();
  } finally {
    db.close();
  }
}

export function agentOutboxDepth(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox").get()!.n;
  } finally {
    db.close();
  }
}

export function rejectionCounts(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, number> = {};
    for (const r of db
      .prepare<[], { code: string; count: number }>("SELECT code, count FROM rejections")
      .all())
      out[r.code] = r.count;
    return out;
  } finally {
    db.close();
  }
}

/** Re-verifies every stored envelope independently of the aggregator: CA → certificate → signature. */
export function reverifyAll(rows: readonly AggregatorReading[], pki: TestPki): number {
  const trust = new TrustStore(pki.ca.caCertificate(), { now: Date.now });
  for (const a of pki.agents) trust.add(a.cert);
  const verifier = new EnvelopeVerifier({
    directory: trust,
    sequences: new MemorySequenceStore(),
    freshness: { maxAgeMs: () => 86_400_000, maxFutureMs: 60_000 },
    now: Date.now,
  });
  for (const r of rows) {
    const env = verifier.verify(r.envelope);
    const body = env.body as { meter: string; importWh: number; ts: number };
    if (
      env.from !== r.sender ||
      env.seq !== r.seq ||
      body.meter !== r.meter ||
      body.importWh !== r.importWh
    ) {
      throw new Error(`stored columns differ from the signed envelope at ${r.sender}/${r.seq}`);
    }
  }
  return rows.length;
}
