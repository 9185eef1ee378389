import { fromHex } from "../../../protocol/bytes.js";
import type { Ed25519 } from "../../../protocol/crypto/index.js";
import { type Envelope, envelopeSigningBytes, signEnvelope } from "../../../protocol/envelope.js";
import { TOPIC_ROOT } from "../../../protocol/topics.js";
import type { Message } from "../messages.js";

/**
 * How consensus messages travel between aggregators over MQTT, shared by every link (the library's
 * MqttLink and the aggregator process's PeerLink). Brokers and paths are untrusted.
 *
 * Messages that already carry their sender's signature over everything that matters (votes, proposals,
 * view changes, checkpoints, audits), or a certificate of 2f+1 signatures (decisions, blocks), travel as
 * they are, `{"raw": msg}`: the core checks those signatures, and a second envelope signature would
 * double the cost of every vote. The rest (fetch requests, forwarded client transactions) go in an
 * envelope of type `consensus` signed by the sender.
 */
export const SELF_CERTIFYING: ReadonlySet<string> = new Set([
  "pp",
  "prepare",
  "commit",
  "votes",
  "vc",
  "vcs",
  "nv",
  "ckpt",
  "decided",
  "blocks",
  "pow-prop",
  "pow-audit",
  "pow-reply",
  "pow-next",
]);

export const CONSENSUS_ENVELOPE_TYPE = "consensus";

/** A member publishes only on its own broker, under its own id; the broker ACL lets peers read these. */
export const consensusTopics = {
  broadcast: (from: string) => `${TOPIC_ROOT}/consensus/${from}/all`,
  direct: (from: string, to: string) => `${TOPIC_ROOT}/consensus/${from}/to/${to}`,
};

export interface WireSigner {
  self: string;
  seed: Uint8Array;
  crypto: Ed25519;
  nextSeq: () => number;
  /** stamps the envelope for operators; freshness is not checked (votes are idempotent) */
  now: () => number;
}

export function encodeConsensusMessage(msg: Message, s: WireSigner): Buffer {
  if (SELF_CERTIFYING.has(msg.t)) return Buffer.from(JSON.stringify({ raw: msg }));
  const env = signEnvelope(
    { type: CONSENSUS_ENVELOPE_TYPE, from: s.self, seq: s.nextSeq(), ts: s.now(), body: msg },
    s.seed,
    s.crypto,
  );
  return Buffer.from(JSON.stringify(env));
}

export type DecodeResult =
  | { ok: true; msg: Message }
  | { ok: false; reason: "MALFORMED" | "UNSIGNED" | "WRONG_SENDER" | "BAD_SIGNATURE" };

/**
 * Checks a payload received from `peer`'s broker: a raw message must be self-certifying and name the
 * peer as its sender; an envelope must be signed by the peer's consortium key and carry a message from it.
 */
export function decodeConsensusMessage(
  peer: string,
  payload: Buffer,
  peerKey: Uint8Array,
  crypto: Ed25519,
): DecodeResult {
  let env: Envelope<Message>;
  try {
    env = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, reason: "MALFORMED" };
  }
  if (typeof env !== "object" || env === null) return { ok: false, reason: "MALFORMED" };
  const raw = (env as unknown as { raw?: Message }).raw;
  if (raw !== undefined) {
    if (typeof raw !== "object" || raw === null || !SELF_CERTIFYING.has(raw.t))
      return { ok: false, reason: "UNSIGNED" };
    if (raw.from !== peer) return { ok: false, reason: "WRONG_SENDER" };
    return { ok: true, msg: raw };
  }
  if (env.type !== CONSENSUS_ENVELOPE_TYPE || env.from !== peer) return { ok: false, reason: "WRONG_SENDER" };
  const sig = typeof env.sig === "string" ? fromHex(env.sig) : undefined;
  let ok = false;
  try {
    ok = sig !== undefined && crypto.verify(sig, envelopeSigningBytes(env), peerKey);
  } catch {
    ok = false;
  }
  if (!ok) return { ok: false, reason: "BAD_SIGNATURE" };
  const msg = env.body;
  if (typeof msg !== "object" || msg === null || msg.from !== peer)
    return { ok: false, reason: "WRONG_SENDER" };
  return { ok: true, msg };
}
