import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "../../protocol/log.js";
import { STATUS_OFFLINE, STATUS_ONLINE, topics } from "../../protocol/topics.js";
import type { OutboxRow } from "../store/agent-store.js";
import type { TlsMaterial } from "./tls.js";

/** Where the link takes envelopes to send: the durable outbox, oldest first. */
export interface OutboxSource {
  outboxAfter(afterSeq: number, limit: number): OutboxRow[];
}

export interface RetainedMessage {
  topic: string;
  payload: string;
}

export interface AgentLinkOptions {
  url: string;
  agentId: string;
  /** fixed, so that the broker keeps the session (subscriptions, queued receipts) across reconnects */
  clientId: string;
  keepaliveSeconds: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** envelopes published but not yet receipted, at most */
  inflight: number;
  /** an envelope unreceipted this long makes the link resend the whole outbox */
  receiptTimeoutMs: number;
  /** a fresh login token for each connection attempt */
  password: () => string;
  outbox: OutboxSource;
  /** retained messages published on every connect (Home Assistant discovery) */
  retained: () => RetainedMessage[];
  onDown: (payload: Buffer) => void;
  /** PEM material for mqtts:// (CA of the broker, client certificate and key) */
  tls?: TlsMaterial;
  log: Logger;
}

export interface LinkStats {
  connected: boolean;
  connects: number;
  published: number;
  inflight: number;
  resends: number;
}

/**
 * The agent's MQTT connection: QoS 1, persistent session, retained "online" status with an "offline"
 * last will, reconnect with exponential back-off, and the outbox drained in sequence order with a
 * bounded window of unreceipted envelopes. The outbox is the truth: on each (re)connect and after a
 * receipt timeout, sending starts again from its oldest row; the aggregator de-duplicates.
 */
export class AgentLink {
  private readonly o: AgentLinkOptions;
  private client: MqttClient | undefined;
  private readonly inflightSent = new Map<number, number>();
  private cursor = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout;
  private kickScheduled = false;
  private stopped = false;
  private readonly stats_: LinkStats = {
    connected: false,
    connects: 0,
    published: 0,
    inflight: 0,
    resends: 0,
  };

  constructor(opts: AgentLinkOptions) {
    this.o = opts;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(100, Math.floor(opts.receiptTimeoutMs / 2)));
    this.sweepTimer.unref();
  }

  get downTopic(): string {
    return topics.agentDown(this.o.agentId);
  }

  start(): void {
    const statusTopic = topics.agentStatus(this.o.agentId);
    const client = mqtt.connect(this.o.url, {
      clientId: this.o.clientId,
      clean: false,
      keepalive: this.o.keepaliveSeconds,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      username: this.o.agentId,
      password: this.o.password(),
      will: { topic: statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      ...this.o.tls,
    });
    this.client = client;
    client.on("connect", (connack) => {
      this.attempt = 0;
      this.stats_.connected = true;
      this.stats_.connects += 1;
      this.o.log.info("mqtt connected", { url: this.o.url, sessionPresent: connack.sessionPresent });
      this.inflightSent.clear();
      this.cursor = 0;
      client.publish(statusTopic, STATUS_ONLINE, { qos: 1, retain: true });
      for (const m of this.o.retained()) client.publish(m.topic, m.payload, { qos: 1, retain: true });
      client.subscribe(this.downTopic, { qos: 1 }, (err) => {
        if (err) this.o.log.warn("subscribe failed", { topic: this.downTopic, error: err.message });
      });
      this.kick();
    });
    client.on("message", (topic, payload) => {
      if (topic === this.downTopic) this.o.onDown(payload);
    });
    client.on("error", (err) => {
      this.o.log.warn("mqtt error", { error: err.message });
    });
    client.on("close", () => {
      if (this.stats_.connected) this.o.log.warn("mqtt connection lost", { url: this.o.url });
      this.stats_.connected = false;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    const base = Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** Math.min(this.attempt, 20));
    // Jitter spreads the reconnects of many agents after their broker comes back.
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped || this.client === undefined) return;
      this.client.options.password = this.o.password();
      this.client.reconnect();
    }, delay);
  }

  /** Sends more of the outbox if the window has room; call after new envelopes are stored. */
  kick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const client = this.client;
    if (client === undefined || !client.connected || this.stopped) return;
    while (this.inflightSent.size < this.o.inflight) {
      const rows = this.o.outbox.outboxAfter(this.cursor, this.o.inflight - this.inflightSent.size);
      if (rows.length === 0) break;
      const now = Date.now();
      for (const row of rows) {
        client.publish(topics.agentUp(this.o.agentId), row.payload, { qos: 1 }, (err) => {
          if (err) this.o.log.debug("publish not completed", { seq: row.seq, error: err.message });
        });
        this.inflightSent.set(row.seq, now);
        this.cursor = row.seq;
        this.stats_.published += 1;
      }
    }
  }

  /** The aggregator receipted (or refused for good) these envelopes: they leave the window. */
  settled(seqs: readonly number[]): void {
    for (const s of seqs) this.inflightSent.delete(s);
    this.kick();
  }

  private sweep(): void {
    if (!this.stats_.connected || this.inflightSent.size === 0) return;
    const oldest = Math.min(...this.inflightSent.values());
    if (Date.now() - oldest < this.o.receiptTimeoutMs) return;
    this.o.log.warn("no receipt in time, resending the outbox", {
      inflight: this.inflightSent.size,
      timeoutMs: this.o.receiptTimeoutMs,
    });
    this.stats_.resends += 1;
    this.inflightSent.clear();
    this.cursor = 0;
    this.kick();
  }

  /** Publishes a plain retained message (Home Assistant state); dropped while disconnected. */
  publishRetained(topic: string, payload: string): void {
    if (this.client?.connected) this.client.publish(topic, payload, { qos: 0, retain: true });
  }

  stats(): LinkStats {
    return { ...this.stats_, inflight: this.inflightSent.size };
  }

  /** Announces "offline" itself (a clean stop does not fire the last will) and disconnects. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (client === undefined) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        client.publish(topics.agentStatus(this.o.agentId), STATUS_OFFLINE, { qos: 1, retain: true }, () =>
          resolve(),
        );
        setTimeout(resolve, 1000).unref();
      });
    }
    await client.endAsync(false);
  }
}
