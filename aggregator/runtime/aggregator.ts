import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { AggregatorConfig } from "../../config/aggregator.js";
import { describeError } from "../../protocol/errors.js";
import { MSG_METER_REPLACE } from "../../protocol/evidence.js";
import type { RunningHttpServer } from "../../protocol/http/server.js";
import { TrustStore } from "../../protocol/identity.js";
import { readCertificateFile, readJsonFile } from "../../protocol/keyfile.js";
import { loadIdentity } from "../../protocol/load-identity.js";
import type { Logger } from "../../protocol/log.js";
import { loginToken, sessionClientId } from "../../protocol/login.js";
import { MSG_READING } from "../../protocol/messages/readings.js";
import type { ServiceNotifier } from "../../protocol/notify.js";
import { seqFloor } from "../../protocol/sequence.js";
import { readListenerTls, readTlsFiles } from "../../protocol/tls.js";
import { STATUS_OFFLINE, STATUS_ONLINE, TOPIC_ROOT, topics } from "../../protocol/topics.js";
import { type EmbeddedBroker, startEmbeddedBroker } from "../broker/embedded.js";
import { LoginVerifier } from "../broker/login.js";
import { SqliteLoginSequences } from "../broker/login-sequences.js";
import { startAggregatorHttp } from "../http/serve.js";
import { Ingest } from "../ingest/ingest.js";
import { readingsHandler } from "../ingest/readings.js";
import { ReceiptBatcher } from "../ingest/receipts.js";
import { IngestRetention } from "../ingest/retention.js";
import { AggregatorStore } from "../ingest/store.js";
import { defaultVerifyThreads, VerifyPool } from "../ingest/verify-pool.js";
import { SignatureCache } from "../node/sig-cache.js";
import { createLedgerService, type RunningLedger } from "../service/service.js";
import { type BrokerLink, externalBrokerLink } from "./broker-link.js";
import { DutyClock } from "./clock.js";
import { AggregatorRuntimeError } from "./errors.js";
import { RevocationFeed } from "./revocations.js";

export interface RunningAggregator {
  ingest: Ingest;
  trust: TrustStore;
  store: AggregatorStore;
  broker: EmbeddedBroker | undefined;
  /** the replicated ledger, when the configuration names a consortium and a genesis */
  ledger: RunningLedger | undefined;
  /** the URL agents and the aggregator's own client use */
  url: string;
  /** the dashboard and metrics endpoint, when `http` is configured */
  http: RunningHttpServer | undefined;
  stop(): Promise<void>;
}

/**
 * Retention (docs/OPERATIONS.md): every 30 s, at most this many rows of each kind, so that a run pauses
 * the process (consensus included) for tens of milliseconds, not seconds; up to 14 million a day.
 */
const RETENTION_EVERY_MS = 30_000;
const RETENTION_BATCH = 5_000;

/**
 * The aggregator's composition root: identity and trust store, SQLite store, the one DutyClock, the
 * embedded broker (or none, with an external one), the aggregator's own MQTT client subscribed to every
 * agent's up topic, ingest with its handler registry, and the ledger service (aggregator/service/
 * service.ts: block store, peer links, node, bill desk, identity registrar, outbox pump, commit relay).
 * Every periodic duty of the process is registered on the clock by name (runtime/clock.ts DutyName).
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

  const store = new AggregatorStore(config.store.path, config.id, () => seqFloor(now()));
  // The process's one timer: every periodic duty below and in the ledger service is registered on it.
  const clock = new DutyClock(now, log);
  // The link and ingest need each other (receipts go out through the link, messages come in to
  // ingest); this indirection lets either be built first.
  let link: BrokerLink | undefined;
  const receipts = new ReceiptBatcher({
    aggregatorId: config.id,
    seed: identity.key.seed,
    nextSeq: () => store.allocateSeq(),
    now,
    delayMs: config.ingest.receiptDelayMs,
    maxPerReceipt: 2000,
    sender: { send: (topic, payload) => link?.publish(topic, payload) },
  });
  // One verification per envelope: ingest checks signatures through the ledger's cache, so the
  // ledger's check of the same envelope at proposal and execution is a lookup.
  const signatures = new SignatureCache();
  const verifyThreads = config.ingest.verifyThreads ?? defaultVerifyThreads();
  const pool = verifyThreads > 0 ? new VerifyPool(verifyThreads) : undefined;
  const ingest = new Ingest({
    checkSignature: (env, publicKeyHex) => signatures.verify(env, publicKeyHex),
    ...(pool === undefined
      ? {}
      : { pool, rememberSignature: (env, key, bytes, ok) => signatures.remember(env, key, bytes, ok) }),
    store,
    directory: trust,
    refreshSender: () => scanCertDir(),
    receipts,
    now,
    maxFutureMs: config.ingest.maxFutureMs,
    log: log.child("ingest"),
  });
  const readings = readingsHandler(store.db, config.ingest.readingMaxAgeMs);
  ingest.registerHandler(MSG_READING, readings);
  ingest.registerHandler(MSG_METER_REPLACE, readings.evidence.replaceHandler(config.ingest.readingMaxAgeMs));
  // TLS of this process's MQTT clients: the external broker, and the peers' brokers
  const clientTls = readTlsFiles(config.broker.tls);
  const keepMs = config.store.keepReadingsDays * 86_400_000;
  if (keepMs > 0) {
    const retention = new IngestRetention(store.db, () => readings.forgetStored());
    clock.every("retention", RETENTION_EVERY_MS, (t) => {
      const removed = retention.prune(t - keepMs, RETENTION_BATCH);
      if (removed.readings + removed.envelopes > 0)
        log.info("old readings pruned", { ...removed, olderThanDays: config.store.keepReadingsDays });
    });
  }
  // The ledger's message types are registered before agents can connect.
  const ledger =
    config.consortium === undefined || config.genesis === undefined
      ? undefined
      : createLedgerService({
          config: { ...config, consortium: config.consortium, genesis: config.genesis },
          self: config.id,
          identity,
          trust,
          store,
          storePath: config.store.path,
          ingest,
          evidence: readings.evidence,
          tls: clientTls,
          publish: (topic, payload) => link?.publish(topic, payload),
          onRevocations: (peer, payload) => revocations.offer(payload, `peer ${peer}`),
          log: log.child("ledger"),
          clock,
          signatures,
          now,
        });

  const statusTopic = topics.aggregatorStatus(config.id);
  const agentsUp = `${TOPIC_ROOT}/agent/+/up`;
  // A revoked identity must stop being able to log in, be believed or stay connected as soon as the CA
  // says so: the CA's signed list arrives on its topic (here or at a peer) or as a newer file.
  const revocations = new RevocationFeed({
    trust,
    cut: (revoked) => broker?.disconnect((who) => revoked(who.id), "certificate revoked") ?? 0,
    republish: (payload) => link?.publish(topics.revocations(), payload, true),
    count: (code) => ingest.count(code),
    log,
  });
  const route = (topic: string, payload: Buffer) => {
    if (topic !== topics.revocations()) return ingest.receive(topic, payload);
    revocations.offer(payload, topic);
  };
  const revocationsFile = config.identity.revocations;
  if (revocationsFile !== undefined)
    clock.every("revocations", config.trust.revocationsPollMs, () => {
      if (!existsSync(revocationsFile)) return;
      let list: unknown;
      try {
        list = readJsonFile(revocationsFile, "revocation list");
      } catch (e) {
        log.warn("revocation list unreadable", { file: revocationsFile, error: describeError(e) });
        return;
      }
      revocations.offer(list, revocationsFile);
    });
  let broker: EmbeddedBroker | undefined;
  let url: string;
  if (config.broker.embedded !== undefined) {
    const embeddedTls = config.broker.embedded.tls;
    const embedded = await startEmbeddedBroker({
      ...config.broker.embedded,
      tls: embeddedTls === undefined ? undefined : readListenerTls(embeddedTls),
      now,
      login: new LoginVerifier(trust, {
        audience: config.id,
        now,
        sequences: new SqliteLoginSequences(store.db),
      }),
      log: log.child("broker"),
      onRefusal: (code) => ingest.count(`BROKER_${code}`),
      checkPublish: (topic, payload) =>
        topic === topics.revocations() ? revocations.refusal(payload) : undefined,
      subscriptions: [
        { filter: agentsUp, onMessage: route },
        { filter: topics.revocations(), onMessage: route },
      ],
    });
    broker = embedded;
    url = embedded.url;
    link = {
      publish: embedded.publish,
      connected: () => true,
      close: async () => {
        // the agents connected now learn it before their connections close
        await new Promise<void>((resolve) => {
          embedded.publish(statusTopic, STATUS_OFFLINE, true, resolve);
          setTimeout(resolve, 2000).unref();
        });
        await embedded.close();
      },
    };
    embedded.publish(statusTopic, STATUS_ONLINE, true);
  } else {
    url = config.broker.url!;
    const clientId = config.broker.clientId ?? sessionClientId(config.id);
    link = await externalBrokerLink({
      url,
      clientId,
      username: config.broker.username ?? config.id,
      password: () =>
        config.broker.password ??
        loginToken(identity.key, identity.cert, {
          clientId,
          audience: config.id,
          seq: store.nextLoginSeq(),
          now: now(),
        }),
      statusTopic,
      subscribe: [agentsUp, topics.revocations()],
      onConnect: () => link?.publish(statusTopic, STATUS_ONLINE, true),
      onMessage: route,
      tls: clientTls,
      log,
    });
    link.publish(statusTopic, STATUS_ONLINE, true);
  }
  const brokerLink = link;
  let http: RunningHttpServer | undefined;
  try {
    // Before the ledger starts: the blocks it replays from its store fill the dashboard's history.
    http =
      config.http === undefined
        ? undefined
        : await startAggregatorHttp(
            config.http,
            {
              id: config.id,
              url,
              ingest,
              ledger,
              brokerConnected: () => brokerLink.connected(),
              ...(broker === undefined
                ? {}
                : { connections: broker.connections, brokerRefusals: broker.refusals }),
            },
            log.child("http"),
            now,
          );
  } catch (e) {
    await ledger?.stop();
    await pool?.close();
    receipts.stop();
    await brokerLink.close();
    store.close();
    throw e;
  }
  await ledger?.start();
  const watchdogMs = deps.notifier.watchdogMs;
  if (watchdogMs !== undefined)
    clock.every("watchdog", Math.max(500, Math.floor(watchdogMs / 2)), () => {
      if (brokerLink.connected()) deps.notifier.watchdog();
    });
  clock.start();
  deps.notifier.ready();
  log.info("aggregator started", {
    id: config.id,
    url,
    embedded: broker !== undefined,
    ...(http === undefined ? {} : { dashboard: `${http.url}/` }),
  });

  return {
    ingest,
    trust,
    store,
    broker,
    ledger,
    url,
    http,
    stop: async () => {
      deps.notifier.stopping();
      clock.stop();
      await http?.close();
      await ledger?.stop();
      await ingest.close();
      await pool?.close();
      receipts.flush();
      receipts.stop();
      await brokerLink.close();
      store.close();
    },
  };
}
