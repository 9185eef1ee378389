import { fromHex } from "../../protocol/bytes.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { envelopeSigningBytes } from "../../protocol/envelope.js";
import {
  coveredReadings,
  type EvidenceReading,
  evidenceDifference,
  evidenceTotals,
  meterEvidence,
} from "../../protocol/evidence.js";
import { certificateSigningBytes, parseCertificate } from "../../protocol/identity.js";
import { meterSummaryBodySchema } from "../../protocol/messages/trading.js";
import type { LedgerEntry } from "../ledger/block.js";
import { LedgerError } from "../ledger/errors.js";
import type { LedgerGenesis } from "./genesis.js";

export interface EvidenceReport {
  summariesChecked: number;
  /** meter summaries in the ledger not signed by a registered agent (the ledger refused them) */
  summariesUnsigned: number;
  provenImportWh: number;
  provenExportWh: number;
  readings: number;
}

interface Signed {
  type?: unknown;
  from?: unknown;
  seq?: unknown;
  body?: unknown;
  sig?: unknown;
}

/**
 * The auditor's check of metered evidence (docs/PROTOCOL.md, "Metered evidence"): every meter summary
 * in the ledger rebuilt from the readings export (`gridlet ledger export --readings`). Agent keys come
 * from the CA-signed certificates the ledger registered; every reading must be signed by its agent.
 * Throws SUMMARY_MISMATCH at the first summary the readings do not prove.
 */
export function verifyEvidence(
  blocks: Iterable<LedgerEntry>,
  lines: readonly Record<string, unknown>[],
  genesis: LedgerGenesis,
  crypto: Ed25519 = defaultEd25519,
): EvidenceReport {
  const caKey = fromHex(genesis.ca.publicKey)!;
  const keys = new Map<string, Uint8Array>();
  const summaries: { seq: number; env: Signed }[] = [];
  for (const e of blocks)
    for (const tx of e.block.txs as Signed[]) {
      if (tx?.type === "identity.register") {
        try {
          const cert = parseCertificate(tx.body);
          const ok =
            cert.role === "agent" &&
            cert.issuer === genesis.ca.id &&
            crypto.verify(fromHex(cert.sig)!, certificateSigningBytes(cert), caKey);
          if (ok && !keys.has(cert.id)) keys.set(cert.id, fromHex(cert.publicKey)!);
        } catch {
          // not a certificate: the ledger refused it
        }
      } else if (tx?.type === "meter.summary") summaries.push({ seq: e.seq, env: tx });
    }
  const signedByAgent = (env: Signed): boolean => {
    const key = typeof env?.from === "string" ? keys.get(env.from) : undefined;
    const sig = typeof env?.sig === "string" ? fromHex(env.sig) : undefined;
    if (key === undefined || sig === undefined || sig.length !== 64) return false;
    try {
      return crypto.verify(sig, envelopeSigningBytes(env as Parameters<typeof envelopeSigningBytes>[0]), key);
    } catch {
      return false;
    }
  };
  const readings = new Map<string, EvidenceReading[]>();
  const replacements = new Map<string, number[]>();
  const key = (sender: unknown, meter: unknown) => `${String(sender)}\u0000${String(meter)}`;
  let count = 0;
  for (const l of lines) {
    if (l.kind !== "reading" && l.kind !== "meter-replacement") continue;
    const env = l.envelope as Signed;
    if (!signedByAgent(env))
      throw new LedgerError(
        "BAD_READING",
        `a ${l.kind} of ${String(env?.from)}:${String(env?.seq)} is not signed by a registered agent`,
      );
    const b = env.body as { meter?: unknown; ts?: unknown; importWh?: unknown; exportWh?: unknown };
    if (l.kind === "meter-replacement") {
      const list = replacements.get(key(env.from, b.meter)) ?? [];
      list.push(Number(b.ts));
      replacements.set(key(env.from, b.meter), list);
      continue;
    }
    if (![b.ts, b.importWh, b.exportWh].every((x) => Number.isSafeInteger(x)))
      throw new LedgerError(
        "BAD_READING",
        `reading ${String(env.from)}:${String(env.seq)} has no integer ts and registers`,
      );
    const list = readings.get(key(env.from, b.meter)) ?? [];
    list.push({
      seq: Number(env.seq),
      ts: Number(b.ts),
      meter: String(b.meter),
      importWh: Number(b.importWh),
      exportWh: Number(b.exportWh),
      envelope: env,
    });
    readings.set(key(env.from, b.meter), list);
    count++;
  }
  const T = genesis.trading.intervalMs;
  const report: EvidenceReport = {
    summariesChecked: 0,
    summariesUnsigned: 0,
    provenImportWh: 0,
    provenExportWh: 0,
    readings: count,
  };
  for (const { seq, env } of summaries) {
    if (!signedByAgent(env)) {
      report.summariesUnsigned++;
      continue;
    }
    const where = `summary ${String(env.from)}:${String(env.seq)} (block ${seq})`;
    const parsed = meterSummaryBodySchema.safeParse(env.body);
    if (!parsed.success) throw new LedgerError("SUMMARY_MISMATCH", `${where} carries no consistent evidence`);
    const s = parsed.data;
    const start = s.interval * T;
    const actual = (meter: string) => {
      const k = key(env.from, meter);
      const covered = coveredReadings(readings.get(k) ?? [], start, start + T, T, replacements.get(k) ?? []);
      return covered.length === 0 ? undefined : meterEvidence(meter, covered);
    };
    for (const m of s.meters) {
      const why = evidenceDifference(m, actual(m.meter));
      if (why !== undefined) throw new LedgerError("SUMMARY_MISMATCH", `${where}: ${why}`);
    }
    const claimed = new Set(s.meters.map((m) => m.meter));
    for (const k of readings.keys()) {
      const [sender, meter] = k.split("\u0000");
      if (sender === env.from && !claimed.has(meter) && actual(meter) !== undefined)
        throw new LedgerError("SUMMARY_MISMATCH", `${where} leaves out meter ${meter}`);
    }
    const t = evidenceTotals(s.meters);
    report.summariesChecked++;
    report.provenImportWh += t.importWh;
    report.provenExportWh += t.exportWh;
  }
  return report;
}
