import mqtt, { type MqttClient } from "#mqtt";
import { fromHex } from "../../protocol/bytes.js";
import type { Ed25519 } from "../../protocol/crypto/index.js";
import type { Certificate, KeyMaterial } from "../../protocol/identity.js";
import type { Logger } from "../../protocol/log.js";
import { loginToken, sessionClientId } from "../../protocol/login.js";
import { logSubscribeOutcome } from "../../protocol/subscribe-outcome.js";
import { isTlsRefusal, type TlsMaterial } from "../../protocol/tls.js";
import { TOPIC_ROOT, topics } from "../../protocol/topics.js";
import type { Consortium } from "../consensus/consortium.js";
import type { Message } from "../consensus/messages.js";
import type { Link } from "../consensus/transport/host.js";
import {
  consensusTopics,
  decodeConsensusMessage,
  encodeConsensusMessage,
} from "../consensus/transport/wire.js";

/** Consensus traffic (consensus/transport/wire.ts) and credit bills, which the broker ACL lets peers read. */
export const peerTopics = {
  ...consensusTopics,
  /** credit bills for bank `bankId`, published by the seller's aggregator on its own broker */
  bills: (bankId: string) => `${TOPIC_ROOT}/bank/${bankId}/bills`,
};

export interface PeerLinkOptions {
  consortium: Consortium;
  self: string;
  key: KeyMaterial;
  cert: Certificate;
  crypto: Ed25519;
  /** publishes on this aggregator's own broker (in-process for the embedded one) */
  publishOwn: (topic: string, payload: Buffer) => void;
  deliver: (msg: Message) => void;
  /** a bill for this aggregator's bank forwarded by a peer (the raw agent envelope) */
  onBill?: (peer: string, payload: Buffer) => void;
  /** the CA's revocation list as retained on a peer's broker (verified by the receiver) */
  onRevocations?: (peer: string, payload: Buffer) => void;
  /** login sequence numbers: rising across restarts */
  nextLoginSeq: () => number;
  /** TLS to the peers' brokers: the CA their server certificates are checked against */
  tls?: TlsMaterial | undefined;
  now: () => number;
  log: Logger;
}

/** How long a peer connection may take from the TCP connect to the CONNACK (TLS handshake included). */
export const PEER_CONNECT_TIMEOUT_MS = 10_000;
const PEER_RETRY_MIN_MS = 500;
const PEER_RETRY_MAX_MS = 5_000;

/**
 * The wait before reconnect attempt `failures` + 1 to a peer's broker: 0.5 s doubling per failure up to
 * 5 s, stretched by up to half again by `jitter` (in [0, 1)) so that members that lost a peer together
 * do not retry in step.
 */
export function peerRetryMs(failures: number, jitter: number): number {
  const base = Math.min(PEER_RETRY_MAX_MS, PEER_RETRY_MIN_MS * 2 ** Math.min(failures, 16));
  return Math.round(base * (1 + Math.max(0, Math.min(1, jitter)) / 2));
}

/**
 * The consensus link between aggregator processes: each one publishes on its own broker and subscribes
 * to every peer's broker, logging in there like an agent does (a login token signed with its aggregator
 * key, fresh on every reconnect). Brokers and paths are untrusted: every message is signed.
 */
export class PeerLink implements Link {
  private readonly peers = new Map<string, MqttClient>();
  private readonly keys: Map<string, Uint8Array>;
  private seq = 0;
  readonly refused = new Map<string, number>();
  private closing = false;
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(private readonly o: PeerLinkOptions) {
    this.keys = new Map(o.consortium.members.map((m) => [m.id, fromHex(m.publicKey)!]));
    const refusedTls = new Set<string>();
    for (const m of o.consortium.members) {
      if (m.id === o.self) continue;
      const clientId = sessionClientId(o.self, "peer");
      const token = () =>
        loginToken(o.key, o.cert, { clientId, audience: m.id, seq: o.nextLoginSeq(), now: o.now() });
      // Reconnects are ours, not MQTT.js's fixed interval: each waits longer after each failure (with
      // jitter), and presents a token made just then. Fifty processes starting at once on a small machine
      // otherwise retry every peer twice a second, each attempt a TLS handshake on a saturated CPU, and the
      // tokens, made when the last connection closed, turn stale before the brokers get to read them.
      let failures = 0;
      let retry: NodeJS.Timeout | undefined;
      const c = mqtt.connect(m.broker, {
        clientId,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: PEER_CONNECT_TIMEOUT_MS,
        username: o.self,
        password: token(),
        ...o.tls,
      });
      c.on("close", () => {
        // one attempt waits at a time, however many close events a failed attempt gives
        if (this.closing || retry !== undefined) return;
        const t = setTimeout(
          () => {
            this.retries.delete(t);
            retry = undefined;
            if (this.closing) return;
            c.options.password = token();
            c.reconnect();
          },
          peerRetryMs(failures++, Math.random()),
        );
        retry = t;
        this.retries.add(t);
      });
      c.on("connect", () => {
        failures = 0;
        const filters = [peerTopics.broadcast(m.id), peerTopics.direct(m.id, o.self)];
        if (o.onBill !== undefined) filters.push(peerTopics.bills(o.self));
        if (o.onRevocations !== undefined) filters.push(topics.revocations());
        c.subscribe(filters, { qos: 0 }, (err) =>
          logSubscribeOutcome(o.log, "peer subscribe", { peer: m.id }, err),
        );
        o.log.info("connected to peer broker", { peer: m.id, url: m.broker });
        refusedTls.delete(m.id);
      });
      c.on("message", (topic, payload) => this.receive(m.id, topic, payload));
      c.on("error", (e) => {
        // A certificate the consortium's TLS CA does not vouch for is a configuration problem (or an
        // impostor): said once until the peer is reached again, unlike the ordinary retries.
        if (isTlsRefusal(e) && !refusedTls.has(m.id)) {
          refusedTls.add(m.id);
          o.log.warn("peer broker's TLS certificate refused", {
            peer: m.id,
            url: m.broker,
            error: e.message,
          });
        } else o.log.debug("peer broker error", { peer: m.id, error: e.message });
      });
      this.peers.set(m.id, c);
    }
  }

  /** Resolves once connected to every peer that answers within `ms` (the others join later). */
  async ready(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && ![...this.peers.values()].every((c) => c.connected))
      await new Promise((r) => setTimeout(r, 20));
  }

  connectedPeers(): string[] {
    return [...this.peers].filter(([, c]) => c.connected).map(([id]) => id);
  }

  send(to: string, msg: Message): void {
    this.publish(peerTopics.direct(this.o.self, to), msg);
  }

  broadcast(msg: Message): void {
    this.publish(peerTopics.broadcast(this.o.self), msg);
  }

  /** Forwards an agent-signed bill envelope to the bank `bankId` (which subscribes on this broker). */
  forwardBill(bankId: string, payload: Buffer): void {
    this.o.publishOwn(peerTopics.bills(bankId), payload);
  }

  private publish(topic: string, msg: Message): void {
    this.o.publishOwn(
      topic,
      encodeConsensusMessage(msg, {
        self: this.o.self,
        seed: this.o.key.seed,
        crypto: this.o.crypto,
        nextSeq: () => ++this.seq,
        now: this.o.now,
      }),
    );
  }

  /** True when the message went to the core (or, for a bill, to the bank). */
  private receive(peer: string, topic: string, payload: Buffer): boolean {
    if (topic === topics.revocations()) {
      this.o.onRevocations?.(peer, payload);
      return true;
    }
    if (topic === peerTopics.bills(this.o.self)) {
      this.o.onBill?.(peer, payload);
      return true;
    }
    const r = decodeConsensusMessage(peer, payload, this.keys.get(peer)!, this.o.crypto);
    if (!r.ok) {
      this.refused.set(r.reason, (this.refused.get(r.reason) ?? 0) + 1);
      this.o.log.debug("peer message refused", { reason: r.reason, peer, topic });
      return false;
    }
    this.o.deliver(r.msg);
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await Promise.all([...this.peers.values()].map((c) => c.endAsync(true)));
  }
}
