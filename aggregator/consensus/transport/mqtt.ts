import mqtt, { type MqttClient } from "#mqtt";
import { fromHex } from "../../../protocol/bytes.js";
import type { Ed25519 } from "../../../protocol/crypto/index.js";
import { createLogger } from "../../../protocol/log.js";
import type { Consortium } from "../consortium.js";
import type { Message } from "../messages.js";
import type { Link } from "./host.js";
import { consensusTopics, decodeConsensusMessage, encodeConsensusMessage } from "./wire.js";

const log = createLogger("consensus:mqtt");

/** Topics: a member publishes only on its own broker, under its own id (see wire.ts). */
export const broadcastTopic = consensusTopics.broadcast;
export const directTopic = consensusTopics.direct;

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
    const payload = encodeConsensusMessage(msg, {
      self: this.o.self,
      seed: this.o.seed,
      crypto: this.o.crypto,
      nextSeq: () => ++this.seq,
      now: Date.now,
    });
    this.own.publish(topic, payload, { qos: 0 });
  }

  /** True when the message passed and went to the core. */
  private receive(peer: string, topic: string, payload: Buffer): boolean {
    const r = decodeConsensusMessage(peer, payload, this.keys.get(peer)!, this.o.crypto);
    if (!r.ok) {
      this.refused.set(r.reason, (this.refused.get(r.reason) ?? 0) + 1);
      log.debug("consensus message refused", { reason: r.reason, peer, topic });
      return false;
    }
    this.o.deliver(r.msg);
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([this.own, ...this.peers.values()].map((c) => c.endAsync(true)));
  }
}
