import { join } from "node:path";
import { Ingest, type IngestOptions } from "../../aggregator/ingest/ingest.js";
import { readingsHandler } from "../../aggregator/ingest/readings.js";
import { ReceiptBatcher } from "../../aggregator/ingest/receipts.js";
import { AggregatorStore } from "../../aggregator/ingest/store.js";
import type { TestPki } from "../../bench/harness/pki.js";
import type { Envelope } from "../../protocol/envelope.js";
import { TrustStore } from "../../protocol/identity.js";
import { silentLogger } from "../../protocol/log.js";
import { MSG_READING, type ReceiptBody } from "../../protocol/messages/readings.js";

/**
 * Ingest as the aggregator builds it, in this process: a fresh store file in `dir`, every agent of `pki`
 * trusted, receipts sent at once and collected in `sent`, the readings handler registered. `options`
 * adds to Ingest's (verify threads, the signature hooks).
 */
export function ingestKit(
  dir: string,
  file: string,
  pki: TestPki,
  options: Partial<
    Pick<IngestOptions, "pool" | "checkSignature" | "rememberSignature" | "commitSpacingMs" | "monotonicMs">
  > = {},
) {
  const store = new AggregatorStore(join(dir, file), "agg-1", () => 1);
  const trust = new TrustStore(pki.ca.caCertificate(), { now: Date.now });
  for (const a of pki.agents) trust.add(a.cert);
  const sent: { topic: string; env: Envelope<ReceiptBody> }[] = [];
  const receipts = new ReceiptBatcher({
    aggregatorId: "agg-1",
    seed: pki.aggregator.key.seed,
    nextSeq: () => store.allocateSeq(),
    now: Date.now,
    delayMs: 0,
    maxPerReceipt: 1000,
    sender: { send: (topic, payload) => sent.push({ topic, env: JSON.parse(payload.toString()) }) },
  });
  const ingest = new Ingest({
    store,
    directory: trust,
    receipts,
    now: Date.now,
    maxFutureMs: 60_000,
    log: silentLogger,
    ...options,
  });
  const readings = readingsHandler(store.db, 86_400_000);
  ingest.registerHandler(MSG_READING, readings);
  return { store, trust, receipts, ingest, sent, readings };
}
