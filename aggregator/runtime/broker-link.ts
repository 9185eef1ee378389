import mqtt, { type MqttClient } from "#mqtt";
import type { Logger } from "../../protocol/log.js";
import type { TlsMaterial } from "../../protocol/tls.js";
import { STATUS_OFFLINE } from "../../protocol/topics.js";
import { AggregatorRuntimeError } from "./errors.js";

/** How the aggregator talks to its broker: in-process (embedded Aedes) or as an MQTT client (external). */
export interface BrokerLink {
  publish(topic: string, payload: Buffer | string, retain?: boolean): void;
  connected(): boolean;
  close(): Promise<void>;
}

/**
 * The aggregator as a client of an external broker (Mosquitto, EMQX): persistent session, QoS 1, its
 * status with an "offline" last will, re-subscribed on every connect (a broker without persistence
 * forgets sessions when it restarts).
 */
export async function externalBrokerLink(o: {
  url: string;
  clientId: string;
  username: string;
  password: () => string;
  statusTopic: string;
  subscribe: string[];
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
  tls?: TlsMaterial;
  log: Logger;
}): Promise<BrokerLink> {
  const client: MqttClient = mqtt.connect(o.url, {
    clientId: o.clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    username: o.username,
    password: o.password(),
    will: { topic: o.statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
    ...o.tls,
  });
  let connected = false;
  client.on("connect", () => {
    connected = true;
    o.log.info("aggregator connected to broker", { url: o.url });
    client.subscribe(o.subscribe, { qos: 1 }, (err) => {
      if (err) o.log.error("cannot subscribe to agents", { error: err.message });
    });
    o.onConnect();
  });
  client.on("close", () => {
    if (connected) o.log.warn("aggregator lost the broker", { url: o.url });
    connected = false;
    // The next automatic reconnect presents a fresh login token.
    client.options.password = o.password();
  });
  client.on("error", (err) => o.log.warn("mqtt error", { error: err.message }));
  client.on("message", (topic, payload) => o.onMessage(topic, payload));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(
        new AggregatorRuntimeError("BROKER_UNREACHABLE", `no connection to the broker at ${o.url} in 15 s`),
      );
    }, 15_000);
    client.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    publish: (topic, payload, retain = false) => {
      client.publish(topic, payload, { qos: 1, retain });
    },
    connected: () => connected,
    close: async () => {
      if (client.connected) {
        await new Promise<void>((r) =>
          client.publish(o.statusTopic, STATUS_OFFLINE, { qos: 1, retain: true }, () => r()),
        );
      }
      await client.endAsync(false);
    },
  };
}
