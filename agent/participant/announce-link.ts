import mqtt, { type MqttClient } from "#mqtt";
import { fromHex } from "../../protocol/bytes.js";
import { type Envelope, EnvelopeVerifier, type SequenceStore } from "../../protocol/envelope.js";
import { describeError } from "../../protocol/errors.js";
import type { Certificate } from "../../protocol/identity.js";
import type { Logger } from "../../protocol/log.js";
import { logSubscribeOutcome } from "../../protocol/subscribe-outcome.js";
import type { TlsMaterial } from "../../protocol/tls.js";
import { topics } from "../../protocol/topics.js";

/** Announcements are only ever newer or older prices: no sequence check, a stale one is ignored later. */
const noSequenceCheck: SequenceStore = { last: () => undefined, advance: () => undefined };

/**
 * A second, subscribe-only MQTT session for the home aggregator's `market.announce` messages. The agent's
 * main link (agent/link/mqtt-link.ts) listens only on its down topic; this one uses its own client id
 * (`<clientId>/announce`, clean session: a missed announcement is replaced by the next) and its own login
 * token, and never publishes. When the main link fails over, this one follows (`follow`) to the same
 * aggregator's broker and its announcements.
 */
export class AnnounceLink {
  private client: MqttClient | undefined;
  private readonly verifier: EnvelopeVerifier;
  private url: string;
  private aggregatorId: string;

  constructor(
    private readonly o: {
      url: string;
      clientId: string;
      agentId: string;
      aggregator: Certificate;
      /** every aggregator the agent may fail over to; announcements from any of them verify */
      aggregators?: Certificate[] | undefined;
      /** a fresh login token for the client id `<clientId>/announce` at the aggregator named */
      password: (audience: string) => string;
      tls?: TlsMaterial | undefined;
      onAnnounce: (env: Envelope) => void;
      log: Logger;
      now: () => number;
    },
  ) {
    const keys = new Map(
      [o.aggregator, ...(o.aggregators ?? [])].map((c) => [c.id, fromHex(c.publicKey)!] as const),
    );
    this.url = o.url;
    this.aggregatorId = o.aggregator.id;
    this.verifier = new EnvelopeVerifier({
      directory: {
        lookup: (id) => {
          const publicKey = keys.get(id);
          return publicKey === undefined ? undefined : { publicKey, revoked: false };
        },
      },
      sequences: noSequenceCheck,
      freshness: { maxAgeMs: () => 3_600_000, maxFutureMs: 5 * 60_000 },
      now: o.now,
    });
  }

  /** Moves to another aggregator's broker and listens to its announcements instead. */
  follow(url: string, aggregatorId: string): void {
    const old = this.client;
    this.client = undefined;
    old?.end(true);
    this.url = url;
    this.aggregatorId = aggregatorId;
    this.start();
  }

  start(): void {
    const topic = topics.aggregatorAnnounce(this.aggregatorId);
    const clientId = `${this.o.clientId}/announce`;
    const client = mqtt.connect(this.url, {
      clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      username: this.o.agentId,
      password: this.o.password(this.aggregatorId),
      ...this.o.tls,
    });
    this.client = client;
    client.on("connect", () => {
      // after stop() or follow() ended this client, a late CONNACK must not subscribe on it (MQTT.js has
      // closed its stores and would throw)
      if (this.client !== client) return;
      client.subscribe(topic, { qos: 1 }, (err) =>
        logSubscribeOutcome(this.o.log, "announce subscribe", { topic }, err),
      );
    });
    // Each reconnect presents a fresh login token (the broker refuses a reused sequence number).
    client.on("reconnect", () => {
      client.options.password = this.o.password(this.aggregatorId);
    });
    client.on("error", (err) => this.o.log.debug("announce link error", { error: err.message }));
    client.on("message", (t, payload) => {
      if (t !== topic || this.client !== client) return;
      try {
        this.o.onAnnounce(this.verifier.verify(payload));
      } catch (e) {
        this.o.log.warn("announcement rejected", { error: describeError(e) });
      }
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync(true);
  }
}
