import type { Ed25519 } from "../../protocol/crypto/index.js";
import { type Envelope, signEnvelope } from "../../protocol/envelope.js";
import type { Certificate, RevocationList } from "../../protocol/identity.js";
import type { Tx } from "../state/handler.js";
import { TX_TYPE_OF_MESSAGE } from "../state/messages.js";

/**
 * Envelope types the ledger carries besides the agents' trading messages (aggregator/state/messages.ts).
 * Every transaction in a block is one signed envelope.
 */
/** an aggregator's system transaction; the body is the trading core's Tx, with `sender` = the signer */
export const MSG_SYS = "sys";
/** an agent's CA-signed certificate, presented by the agent's home aggregator */
export const MSG_IDENTITY_REGISTER = "identity.register";
/** the CA-signed revocation list, relayed by any aggregator */
export const MSG_CA_REVOCATIONS = "ca.revocations";
/** credit messages an agent signs itself (the bank's grants and payments travel as `sys`) */
export const AGENT_CREDIT_MESSAGES: readonly string[] = ["credit.request", "credit.repay"];

/** Envelope types signed by an aggregator rather than an agent. */
export const AUTHORITY_MESSAGES: ReadonlySet<string> = new Set([
  MSG_SYS,
  MSG_IDENTITY_REGISTER,
  MSG_CA_REVOCATIONS,
]);

/** The trading transaction of an agent's envelope, or null if the ledger does not carry that type. */
export function agentTx(env: Envelope): Tx | null {
  const type = TX_TYPE_OF_MESSAGE[env.type] ?? (AGENT_CREDIT_MESSAGES.includes(env.type) ? env.type : null);
  if (type === null) return null;
  return { id: `${env.from}:${env.seq}`, type, sender: env.from, body: env.body };
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
