import mqtt, { type MqttClient } from "#mqtt";
import type { Logger } from "../../protocol/log.js";
import type { TlsMaterial } from "../../protocol/tls.js";
import { STATUS_OFFLINE, STATUS_ONLINE, topics } from "../../protocol/topics.js";
import type { HaMessage } from "./home-assistant.js";

export interface HaMirrorOptions {
  agentId: string;
  /** the operator's own broker, the one Home Assistant's MQTT integration uses */
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  tls?: TlsMaterial;
  /** everything current, published again on every (re)connect */
  onConnect: () => HaMessage[];
  log: Logger;
}

/**
 * The agent's connection to the operator's broker (their Home Assistant's Mosquitto), separate from the
 * aggregator's: HA cannot log in to the aggregator's broker, which admits Gridlet identities only. It
 * carries nothing signed, only what HA reads: discovery, state and availability, with the agent's
 * status as its last will. Messages published while it is down are dropped; the connect handler
 * publishes everything current again.
 */
export class HaMirror {
  private readonly client: MqttClient;
  private connectedOnce = false;

  constructor(private readonly o: HaMirrorOptions) {
    const status = topics.agentStatus(o.agentId);
    this.client = mqtt.connect(o.url, {
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: 5000,
      connectTimeout: 10_000,
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.password === undefined ? {} : { password: o.password }),
      will: { topic: status, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      ...o.tls,
    });
    let lastError: string | undefined;
    this.client.on("connect", () => {
      lastError = undefined;
      o.log.info(
        this.connectedOnce ? "home assistant broker connected again" : "home assistant broker connected",
        {
          url: o.url,
        },
      );
      this.connectedOnce = true;
      this.client.publish(status, STATUS_ONLINE, { qos: 1, retain: true });
      this.publish(o.onConnect());
    });
    this.client.on("close", () => {
      if (this.client.connected === false && lastError === undefined && this.connectedOnce)
        o.log.warn("home assistant broker lost", { url: o.url });
    });
    // Logged when the error changes, not on every reconnect attempt of a long outage.
    this.client.on("error", (e) => {
      if (e.message === lastError) return;
      lastError = e.message;
      o.log.warn("home assistant broker unavailable", { url: o.url, error: e.message });
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  get url(): string {
    return this.o.url;
  }

  publish(messages: readonly HaMessage[]): void {
    if (!this.client.connected) return;
    for (const m of messages) this.client.publish(m.topic, m.payload, { qos: m.qos, retain: true });
  }

  /** Says "offline" itself (a clean disconnect does not fire the last will), then disconnects. */
  async stop(): Promise<void> {
    if (this.client.connected) {
      await new Promise<void>((resolve) => {
        this.client.publish(
          topics.agentStatus(this.o.agentId),
          STATUS_OFFLINE,
          { qos: 1, retain: true },
          () => resolve(),
        );
        setTimeout(resolve, 1000).unref();
      });
    }
    await this.client.endAsync(true);
  }
}
