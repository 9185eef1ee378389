import { encodeEnvelope, signEnvelope } from "./envelope.js";
import type { Certificate, KeyMaterial } from "./identity.js";
import { type LoginBody, MSG_LOGIN } from "./messages/readings.js";

/**
 * The MQTT password of an agent or aggregator: a login envelope over its client id and certificate,
 * signed now with a fresh sequence number (docs/AGENT.md, "Broker login").
 */
export function loginToken(
  key: KeyMaterial,
  cert: Certificate,
  clientId: string,
  seq: number,
  now: number,
): string {
  const body: LoginBody = {
    purpose: "mqtt-login",
    clientId,
    cert: cert as unknown as Record<string, unknown>,
  };
  return encodeEnvelope(
    signEnvelope({ type: MSG_LOGIN, from: cert.id, seq, ts: now, body }, key.seed),
  ).toString("utf8");
}
