import mqtt, { type MqttClient } from "#mqtt";
import { ConditionTracker, type Logger } from "../../protocol/log.js";
import { logSubscribeOutcome } from "../../protocol/subscribe-outcome.js";
import type { TlsMaterial } from "../../protocol/tls.js";
import { STATUS_OFFLINE, STATUS_ONLINE, topics } from "../../protocol/topics.js";
import type { OutboxRow } from "../store/agent-store.js";
import { FailoverPolicy } from "./failover.js";
import { probeBroker } from "./probe.js";

/** Where the link takes envelopes to send: the durable outbox, oldest first. */
export interface OutboxSource {
  outboxAfter(afterSeq: number, limit: number): OutboxRow[];
}

export interface RetainedMessage {
  topic: string;
  payload: string;
}

/** One aggregator's broker the agent may use. */
export interface BrokerTarget {
  id: string;
  url: string;
}

export interface AgentLinkOptions {
  /** the aggregators' brokers in order of preference, the home first; one entry means no fail-over */
  brokers: BrokerTarget[];
  /** a broker unreachable this long makes the link move to the next one */
  failoverAfterMs: number;
  /** away from home, the home broker is probed this often and used again once it answers */
  homeRetryMs: number;
  /** called after each change of broker (the announcement subscription follows) */
  onSwitch?: (to: BrokerTarget) => void;
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
  /** a fresh login token for each connection attempt, for the aggregator named (its audience) */
  password: (audience: string) => string;
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
  /** the aggregator whose broker the link uses now */
  broker: string;
  failovers: number;
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
 *
 * With several brokers (docs/AGENT.md, "Fail-over") the link moves on when its broker stays unreachable
 * (agent/link/failover.ts decides) and back home when the home broker answers again. Each broker keeps
 * its own persistent session under the same client id; on every switch the outbox is sent again from its
 * oldest unreceipted row, which the new aggregator receipts (the ledger de-duplicates transactions).
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
  private readonly policy: FailoverPolicy;
  private readonly probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  /** the last error of each broker, so that a broker that stays down is reported once */
  private readonly trouble = new ConditionTracker();
  private readonly stats_: LinkStats = {
    connected: false,
    broker: "",
    failovers: 0,
    connects: 0,
    published: 0,
    inflight: 0,
    resends: 0,
  };

  constructor(opts: AgentLinkOptions) {
    this.o = opts;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(100, Math.floor(opts.receiptTimeoutMs / 2)));
    this.sweepTimer.unref();
    if (opts.brokers.length === 0) throw new RangeError("the link needs at least one broker");
    this.policy = new FailoverPolicy(opts.brokers.length, opts, Date.now());
    this.stats_.broker = opts.brokers[0].id;
    if (opts.brokers.length > 1) {
      this.probeTimer = setInterval(() => this.probeHome(), Math.max(200, Math.min(opts.homeRetryMs, 1000)));
      this.probeTimer.unref();
    }
  }

  private get target(): BrokerTarget {
    return this.o.brokers[this.policy.current];
  }

  get downTopic(): string {
    return topics.agentDown(this.o.agentId);
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    const statusTopic = topics.agentStatus(this.o.agentId);
    const { url } = this.target;
    const client = mqtt.connect(url, {
      clientId: this.o.clientId,
      clean: false,
      keepalive: this.o.keepaliveSeconds,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      username: this.o.agentId,
      password: this.o.password(this.target.id),
      will: { topic: statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      ...this.o.tls,
    });
    this.client = client;
    // A client left behind by a switch may still report; only the current one counts.
    const current = () => this.client === client;
    client.on("connect", (connack) => {
      // a CONNACK can still arrive after stop() ended the client, whose stores MQTT.js has then closed:
      // publishing on it would throw from inside the library
      if (!current() || this.stopped) return;
      this.policy.on({ kind: "connected", at: Date.now() });
      this.attempt = 0;
      this.stats_.connected = true;
      this.stats_.connects += 1;
      this.trouble.leave(this.target.id);
      this.o.log.info("mqtt connected", {
        aggregator: this.target.id,
        url,
        sessionPresent: connack.sessionPresent,
      });
      this.inflightSent.clear();
      this.cursor = 0;
      client.publish(statusTopic, STATUS_ONLINE, { qos: 1, retain: true });
      for (const m of this.o.retained()) client.publish(m.topic, m.payload, { qos: 1, retain: true });
      client.subscribe(this.downTopic, { qos: 1 }, (err) =>
        logSubscribeOutcome(this.o.log, "downlink subscribe", { topic: this.downTopic }, err),
      );
      this.kick();
    });
    // Receipts still queued in an old broker's session are as good as the current one's.
    client.on("message", (topic, payload) => {
      if (topic === this.downTopic) this.o.onDown(payload);
    });
    // While a broker stays down every reconnect fails the same way: logged when the error changes.
    client.on("error", (err) => {
      // what a closing socket reports after stop ("write after end") is the stop, not trouble
      if (!current() || this.stopped) return;
      const fields = { aggregator: this.target.id, error: err.message };
      if (this.trouble.enter(this.target.id, err.message)) this.o.log.warn("mqtt error", fields);
      else this.o.log.debug("mqtt error", fields);
    });
    client.on("close", () => {
      if (!current() || this.stopped) return;
      if (this.stats_.connected) this.o.log.warn("mqtt connection lost", { aggregator: this.target.id, url });
      this.stats_.connected = false;
      const d = this.policy.on({ kind: "down", at: Date.now() });
      if (d.switched !== undefined) this.switchTo(d.switched.from, d.switched.reason);
      else this.scheduleReconnect();
    });
  }

  /** Leaves the current broker for the policy's choice and connects there at once. */
  private switchTo(from: number, reason: "unreachable" | "home-back"): void {
    const to = this.target;
    this.stats_.failovers += 1;
    this.stats_.broker = to.id;
    this.o.log.warn(reason === "home-back" ? "back home" : "failed over", {
      from: this.o.brokers[from].id,
      to: to.id,
      url: to.url,
      reason,
    });
    const old = this.client;
    this.client = undefined;
    this.stats_.connected = false;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.attempt = 0;
    // Nothing in flight carries over: the new aggregator is sent the outbox from its oldest row.
    this.inflightSent.clear();
    this.cursor = 0;
    old?.end(true);
    this.connect();
    this.o.onSwitch?.(to);
  }

  private probeHome(): void {
    const now = Date.now();
    if (this.stopped || this.probing || !this.policy.homeProbeDue(now)) return;
    this.probing = true;
    const home = this.o.brokers[0];
    probeBroker(home.url, 2000)
      .then((up) => {
        if (this.stopped) return;
        this.o.log.debug("home probed", { aggregator: home.id, up });
        const d = this.policy.on({ kind: "home-probe", up, at: Date.now() });
        if (d.switched !== undefined) this.switchTo(d.switched.from, d.switched.reason);
      })
      .catch((e: unknown) => this.o.log.warn("home probe failed", { error: String(e) }))
      .finally(() => {
        this.probing = false;
      });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    // With somewhere else to go, the back-off never outlasts the fail-over delay.
    const max =
      this.o.brokers.length > 1
        ? Math.min(this.o.reconnectMaxMs, this.o.failoverAfterMs)
        : this.o.reconnectMaxMs;
    const base = Math.min(max, this.o.reconnectMinMs * 2 ** Math.min(this.attempt, 20));
    // Jitter spreads the reconnects of many agents after their broker comes back.
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped || this.client === undefined) return;
      // The broker may have been down long enough by now even without a further close event.
      const d = this.policy.decide(Date.now());
      if (d.switched !== undefined) {
        this.switchTo(d.switched.from, d.switched.reason);
        return;
      }
      this.client.options.password = this.o.password(this.target.id);
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

  /** Rows below the send position were added (readings queued again): send from `seq` on. */
  rewind(seq: number): void {
    this.cursor = Math.min(this.cursor, seq - 1);
    this.kick();
  }

  private drain(): void {
    const client = this.client;
    if (client === undefined || !client.connected || this.stopped) return;
    while (this.inflightSent.size < this.o.inflight) {
      const rows = this.o.outbox.outboxAfter(this.cursor, this.o.inflight - this.inflightSent.size);
      if (rows.length === 0) break;
      const now = Date.now();
      for (const row of rows) {
        // after a rewind, what is already on its way is not sent twice
        if (this.inflightSent.has(row.seq)) {
          this.cursor = row.seq;
          continue;
        }
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
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
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
