import type { Ed25519 } from "../../protocol/crypto/index.js";
import { type Envelope, signEnvelope } from "../../protocol/envelope.js";
import type { Certificate, RevocationList } from "../../protocol/identity.js";
import { agentTxId } from "../../protocol/messages/downlink.js";
import type { Tx } from "../state/handler.js";
import {
  LEDGER_MESSAGES,
  ledgerMessage,
  MSG_CA_REVOCATIONS,
  MSG_IDENTITY_REGISTER,
  MSG_SYS,
} from "../state/messages.js";

/**
 * The ledger's envelopes (every transaction in a block is one signed envelope): which are an
 * aggregator's, which agent envelope becomes which transaction (both from the table LEDGER_MESSAGES in
 * aggregator/state/messages.ts), and how an aggregator signs its own.
 */

/** Envelope types signed by an aggregator rather than an agent. */
export const AUTHORITY_MESSAGES: ReadonlySet<string> = new Set(
  Object.entries(LEDGER_MESSAGES)
    .filter(([, m]) => m.signer === "authority")
    .map(([type]) => type),
);

/**
 * The trading transaction of an agent's envelope, or null if the ledger carries no such agent message.
 * The id is `${from}:${seq}`, so a re-delivered envelope is a REPLAY in the ledger too. The body is
 * checked by the core (MALFORMED), so that the log records every attempt the same way on every replica.
 */
export function agentTx(env: Pick<Envelope, "type" | "from" | "seq" | "body">): Tx | null {
  const m = ledgerMessage(env.type);
  if (m?.signer !== "agent") return null;
  return { id: agentTxId(env.from, env.seq), type: m.tx, sender: env.from, body: env.body };
}

export interface EnvelopeSigner {
  id: string;
  seed: Uint8Array;
  crypto?: Ed25519;
}

export function sysEnvelope(tx: Tx, seq: number, ts: number, s: EnvelopeSigner): Envelope<Tx> {
  return signEnvelope({ type: MSG_SYS, from: s.id, seq, ts, body: tx }, s.seed, s.crypto);
}

export function registerEnvelope(cert: Certificate, seq: number, ts: number, s: EnvelopeSigner): Envelope {
  return signEnvelope({ type: MSG_IDENTITY_REGISTER, from: s.id, seq, ts, body: cert }, s.seed, s.crypto);
}

export function revocationsEnvelope(
  list: RevocationList,
  seq: number,
  ts: number,
  s: EnvelopeSigner,
): Envelope {
  return signEnvelope({ type: MSG_CA_REVOCATIONS, from: s.id, seq, ts, body: list }, s.seed, s.crypto);
}
