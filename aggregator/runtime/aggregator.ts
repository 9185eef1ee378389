import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { loginToken } from "../../agent/link/login.js";
import { loadIdentity } from "../../agent/runtime/identity.js";
import type { ServiceNotifier } from "../../agent/runtime/notify.js";
import type { AggregatorConfig } from "../../config/schema.js";
import { describeError, GridletError } from "../../protocol/errors.js";
import { TrustStore } from "../../protocol/identity.js";
import { readCertificateFile } from "../../protocol/keyfile.js";
import type { Logger } from "../../protocol/log.js";
import { MSG_READING } from "../../protocol/messages/readings.js";
import { STATUS_OFFLINE, STATUS_ONLINE, TOPIC_ROOT, topics } from "../../protocol/topics.js";
import { type EmbeddedBroker, startEmbeddedBroker } from "../broker/embedded.js";
import { LoginVerifier } from "../broker/login.js";
import { Ingest } from "../ingest/ingest.js";
import { readingsHandler } from "../ingest/readings.js";
import { ReceiptBatcher } from "../ingest/receipts.js";
import { AggregatorStore } from "../ingest/store.js";

export class AggregatorRuntimeError extends GridletError<"NOT_AN_AGGREGATOR" | "BROKER_UNREACHABLE"> {}

export interface RunningAggregator {
  ingest: Ingest;
  trust: TrustStore;
  store: AggregatorStore;
  broker: EmbeddedBroker | undefined;
  /** the URL agents and the aggregator's own client use */
  url: string;
  stop(): Promise<void>;
}

/**
 * The aggregator's composition root: identity and trust store, SQLite store, the embedded broker (or
 * none, with an external one), the aggregator's own MQTT client subscribed to every agent's up topic,
 * and ingest with its handler registry. Later parts register their handlers on `ingest`.
 */
export async function startAggregator(
  config: AggregatorConfig,
  deps: { log: Logger; notifier: ServiceNotifier; now?: () => number },
): Promise<RunningAggregator> {
  const now = deps.now ?? Date.now;
  const log = deps.log;
  const identity = loadIdentity(config.identity, config.id, now());
  if (identity.cert.role !== "aggregator") {
    throw new AggregatorRuntimeError(
      "NOT_AN_AGGREGATOR",
      `certificate of "${config.id}" has role ${identity.cert.role}`,
    );
  }
  const trust = new TrustStore(identity.ca, { now, revocations: identity.revocations });
  trust.add(identity.cert);
  const certDir = config.trust.certDir;
  let lastScan = 0;
  const scanCertDir = (): boolean => {
    if (certDir === undefined || !existsSync(certDir) || now() - lastScan < 5000) return false;
    lastScan = now();
    let added = false;
    for (const f of readdirSync(certDir).filter((n) => n.endsWith(".cert.json"))) {
      try {
        const cert = readCertificateFile(join(certDir, f));
        if (trust.get(cert.id)?.serial !== cert.serial) {
          trust.add(cert);
          added = true;
        }
      } catch (e) {
        log.warn("certificate not trusted", { file: f, error: describeError(e) });
      }
    }
    return added;
  };
  scanCertDir();

  let ingestRef: Ingest | undefined;
  const store = new AggregatorStore(config.store.path, config.id, () => now() * 1000);
  let broker: EmbeddedBroker | undefined;
  let url: string;
  if (config.broker.embedded !== undefined) {
    broker = await startEmbeddedBroker({
      ...config.broker.embedded,
      login: new LoginVerifier(trust, now),
      log: log.child("broker"),
      onRefusal: (code) => ingestRef?.count(`BROKER_${code}`),
    });
    url = `mqtt://${config.broker.embedded.host}:${broker.port}`;
  } else {
    url = config.broker.url!;
  }

  const clientId = config.broker.clientId ?? `gridlet-agg-${config.id}`;
  const password = () =>
    config.broker.password ?? loginToken(identity.key, identity.cert, clientId, store.allocateSeq(), now());
  const statusTopic = topics.aggregatorStatus(config.id);
  const client: MqttClient = mqtt.connect(url, {
    clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    username: config.broker.username ?? config.id,
    password: password(),
    will: { topic: statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
  });
  const receipts = new ReceiptBatcher({
    aggregatorId: config.id,
    seed: identity.key.seed,
    nextSeq: () => store.allocateSeq(),
    now,
    delayMs: config.ingest.receiptDelayMs,
    maxPerReceipt: 2000,
    sender: { send: (topic, payload) => client.publish(topic, payload, { qos: 1 }) },
  });
  const ingest = new Ingest({
    store,
    directory: trust,
    refreshSender: () => scanCertDir(),
    receipts,
    now,
    maxFutureMs: config.ingest.maxFutureMs,
    log: log.child("ingest"),
  });
  ingestRef = ingest;
  ingest.registerHandler(MSG_READING, readingsHandler(store.db, config.ingest.readingMaxAgeMs));

  let connected = false;
  client.on("connect", () => {
    connected = true;
    log.info("aggregator connected to broker", { url });
    client.publish(statusTopic, STATUS_ONLINE, { qos: 1, retain: true });
    client.subscribe(`${TOPIC_ROOT}/agent/+/up`, { qos: 1 }, (err) => {
      if (err) log.error("cannot subscribe to agents", { error: err.message });
    });
  });
  client.on("close", () => {
    if (connected) log.warn("aggregator lost the broker", { url });
    connected = false;
    client.options.password = password();
  });
  client.on("error", (err) => log.warn("mqtt error", { error: err.message }));
  client.on("message", (topic, payload) => ingest.receive(topic, payload));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new AggregatorRuntimeError("BROKER_UNREACHABLE", `no connection to the broker at ${url} in 15 s`),
        ),
      15_000,
    );
    client.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const watchdog =
    deps.notifier.watchdogMs === undefined
      ? undefined
      : setInterval(
          () => {
            if (connected) deps.notifier.watchdog();
          },
          Math.max(500, Math.floor(deps.notifier.watchdogMs / 2)),
        );
  deps.notifier.ready();
  log.info("aggregator started", { id: config.id, url, embedded: broker !== undefined });

  return {
    ingest,
    trust,
    store,
    broker,
    url,
    stop: async () => {
      deps.notifier.stopping();
      if (watchdog !== undefined) clearInterval(watchdog);
      ingest.flush();
      receipts.flush();
      receipts.stop();
      if (client.connected) {
        await new Promise<void>((r) =>
          client.publish(statusTopic, STATUS_OFFLINE, { qos: 1, retain: true }, () => r()),
        );
      }
      await client.endAsync(false);
      await broker?.close();
      store.close();
    },
  };
}
