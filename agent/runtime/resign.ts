import { encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import type { OutboxRow } from "../store/agent-store.js";

/**
 * The same message under a new sequence number, signed now: what an agent sends when its aggregator
 * reports that it already holds other content under the old number (EQUIVOCATION after a rollback).
 * The body is kept as signed; only `seq`, `ts` and the signature change.
 */
export function resignRow(row: OutboxRow, seq: number, ts: number, from: string, seed: Uint8Array) {
  const old = JSON.parse(row.payload) as { type: string; body: unknown };
  const env = signEnvelope({ type: old.type, from, seq, ts, body: old.body }, seed);
  return { type: row.type, payload: encodeEnvelope(env).toString("utf8") };
}
