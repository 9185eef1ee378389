import mqtt, { type MqttClient } from "mqtt";
import { fromHex } from "../../../protocol/bytes.js";
import type { Ed25519 } from "../../../protocol/crypto/index.js";
import { type Envelope, envelopeSigningBytes, signEnvelope } from "../../../protocol/envelope.js";
import { createLogger } from "../../../protocol/log.js";
import type { Consortium } from "../consortium.js";
import type { Message } from "../messages.js";
import type { Link } from "./host.js";

const log = createLogger("consensus:mqtt");

export const CONSENSUS_TOPIC_ROOT = "gridlet/consensus";
const ENVELOPE_TYPE = "consensus";

/*
 * Messages that already carry their sender's signature over everything that matters (votes, proposals,
 * view changes, checkpoints, audits), or a certificate of 2f+1 signatures (decisions, blocks), travel as
 * they are: the core checks those signatures, and a second envelope signature would double the cost of
 * every vote. The rest (fetch requests, forwarded client transactions) go in a signed envelope.
 */
const SELF_CERTIFYING = new Set<string>([
  "pp",
  "prepare",
  "commit",
  "vc",
  "nv",
  "ckpt",
  "decided",
  "blocks",
  "pow-prop",
  "pow-audit",
  "pow-reply",
  "pow-next",
]);

/** Topics: a member publishes only on its own broker, under its own id. */
export function broadcastTopic(from: string): string {
  return `${CONSENSUS_TOPIC_ROOT}/${from}/all`;
}

export function directTopic(from: string, to: string): string {
  return `${CONSENSUS_TOPIC_ROOT}/${from}/to/${to}`;
}

export interface MqttLinkOptions {
  consortium: Consortium;
  self: string;
  seed: Uint8Array;
  crypto: Ed25519;
  /** receives every message that passed the envelope check */
  deliver: (msg: Message) => void;
}

/**
 * Consensus over MQTT between the aggregators' own brokers: each member publishes on its broker and
 * subscribes to its peers' brokers, so losing one broker loses one member, not the network. Brokers and
 * the path are untrusted: every message is signed, either by its own signatures (checked by the core) or
 * in an envelope signed by its sender and checked here against the consortium key.
 */
export class MqttLink implements Link {
  private readonly own: MqttClient;
  private readonly peers = new Map<string, MqttClient>();
  private readonly keys: Map<string, Uint8Array>;
  private seq = 0;
  readonly refused = new Map<string, number>();

  constructor(private readonly o: MqttLinkOptions) {
    this.keys = new Map(o.consortium.members.map((m) => [m.id, fromHex(m.publicKey)!]));
    const me = o.consortium.members.find((m) => m.id === o.self);
    if (me === undefined) throw new Error(`${o.self} is not in the consortium`);
    const opts = { reconnectPeriod: 500, connectTimeout: 5000, clientId: `${o.self}-pub-${process.pid}` };
    this.own = mqtt.connect(me.broker, opts);
    this.own.on("error", (e) => log.warn("own broker error", { error: e.message }));
    for (const m of o.consortium.members) {
      if (m.id === o.self) continue;
      const c = mqtt.connect(m.broker, { ...opts, clientId: `${o.self}-sub-${m.id}-${process.pid}` });
      c.on("connect", () => {
        c.subscribe([broadcastTopic(m.id), directTopic(m.id, o.self)], { qos: 0 }, (err) => {
          if (err) log.warn("subscribe failed", { peer: m.id, error: err.message });
        });
      });
      c.on("message", (topic, payload) => this.receive(m.id, topic, payload));
      c.on("error", (e) => log.debug("peer broker error", { peer: m.id, error: e.message }));
      this.peers.set(m.id, c);
    }
  }

  /** Resolves once connected to the own broker and to every peer broker that answers within `ms`. */
  async ready(ms = 5000): Promise<void> {
    const all = [this.own, ...this.peers.values()];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !all.every((c) => c.connected))
      await new Promise((r) => setTimeout(r, 20));
  }

  send(to: string, msg: Message): void {
    this.publish(directTopic(this.o.self, to), msg);
  }

  broadcast(msg: Message): void {
    this.publish(broadcastTopic(this.o.self), msg);
  }

  private publish(topic: string, msg: Message): void {
    if (SELF_CERTIFYING.has(msg.t)) {
      this.own.publish(topic, JSON.stringify({ raw: msg }), { qos: 0 });
      return;
    }
    // The clock only stamps the envelope for operators; freshness is not checked (votes are idempotent).
    const env = signEnvelope(
      { type: ENVELOPE_TYPE, from: this.o.self, seq: ++this.seq, ts: Date.now(), body: msg },
      this.o.seed,
      this.o.crypto,
    );
    this.own.publish(topic, JSON.stringify(env), { qos: 0 });
  }

  private refuse(reason: string, fields: Record<string, unknown>): false {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    log.debug("consensus message refused", { reason, ...fields });
    return false;
  }

  /** True when the message passed and went to the core. */
  private receive(peer: string, topic: string, payload: Buffer): boolean {
    let env: Envelope<Message>;
    try {
      env = JSON.parse(payload.toString("utf8"));
    } catch {
      return this.refuse("MALFORMED", { peer, topic });
    }
    const raw = (env as unknown as { raw?: Message })?.raw;
    if (raw !== undefined) {
      // Checked by the core against the sender's key or the certificate it carries.
      if (typeof raw !== "object" || raw === null || !SELF_CERTIFYING.has(raw.t))
        return this.refuse("UNSIGNED", { peer, topic });
      if (raw.from !== peer) return this.refuse("WRONG_SENDER", { peer, topic });
      this.o.deliver(raw);
      return true;
    }
    if (typeof env !== "object" || env === null || env.type !== ENVELOPE_TYPE || env.from !== peer) {
      return this.refuse("WRONG_SENDER", { peer, topic });
    }
    const key = this.keys.get(peer)!;
    const sig = typeof env.sig === "string" ? fromHex(env.sig) : undefined;
    let ok = false;
    try {
      ok = sig !== undefined && this.o.crypto.verify(sig, envelopeSigningBytes(env), key);
    } catch {
      ok = false;
    }
    if (!ok) return this.refuse("BAD_SIGNATURE", { peer, topic });
    const msg = env.body;
    if (typeof msg !== "object" || msg === null || msg.from !== peer)
      return this.refuse("WRONG_SENDER", { peer, topic });
    this.o.deliver(msg);
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([this.own, ...this.peers.values()].map((c) => c.endAsync(true)));
  }
}
