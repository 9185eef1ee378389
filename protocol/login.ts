import { encodeEnvelope, signEnvelope } from "./envelope.js";
import type { Certificate, KeyMaterial } from "./identity.js";
import { type LoginBody, MSG_LOGIN } from "./messages/readings.js";

/**
 * A login token is good this long either side of its timestamp: a captured one is usable for at most
 * a minute, and only at its audience, and only once (docs/PROTOCOL.md, "Login tokens").
 */
export const LOGIN_TOKEN_SKEW_MS = 30_000;

export interface LoginTokenFor {
  /** the MQTT client id of the session: the identity id, or `<id>/<suffix>` */
  clientId: string;
  /** the aggregator whose broker the token is for; no other broker accepts it */
  audience: string;
  /** above every earlier login of this identity at this audience */
  seq: number;
  now: number;
}

/**
 * The MQTT password of an agent or aggregator: a login envelope naming its client id and the
 * aggregator it is for, carrying its certificate, signed now with a fresh sequence number.
 */
export function loginToken(key: KeyMaterial, cert: Certificate, t: LoginTokenFor): string {
  const body: LoginBody = {
    purpose: "mqtt-login",
    clientId: t.clientId,
    audience: t.audience,
    cert: cert as unknown as Record<string, unknown>,
  };
  return encodeEnvelope(
    signEnvelope({ type: MSG_LOGIN, from: cert.id, seq: t.seq, ts: t.now, body }, key.seed),
  ).toString("utf8");
}

/**
 * A session belongs to its identity: its MQTT client id is the identity id or `<id>/<suffix>`, so no
 * one else can take over or resume it [MQTT-3.1.4-2].
 */
export function ownsClientId(identity: string, clientId: string): boolean {
  return (
    clientId === identity || (clientId.startsWith(`${identity}/`) && clientId.length > identity.length + 1)
  );
}

/** The client id of `identity`'s session named `suffix` (undefined: its main session). */
export function sessionClientId(identity: string, suffix?: string): string {
  return suffix === undefined ? identity : `${identity}/${suffix}`;
}
