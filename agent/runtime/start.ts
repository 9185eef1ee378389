import type { AgentConfig } from "../../config/agent.js";
import { type Certificate, verifyCertificate } from "../../protocol/identity.js";
import { readCertificateFile } from "../../protocol/keyfile.js";
import { type LoadedIdentity, loadIdentity } from "../../protocol/load-identity.js";
import type { Logger } from "../../protocol/log.js";
import { loginToken, sessionClientId } from "../../protocol/login.js";
import type { ServiceNotifier } from "../../protocol/notify.js";
import { seqFloor } from "../../protocol/sequence.js";
import { readTlsFiles } from "../../protocol/tls.js";
import { startAgentHttp } from "../http/serve.js";
import type { MeterDriver } from "../meters/types.js";
import { tradingHooks } from "../participant/wire.js";
import { AgentStore } from "../store/agent-store.js";
import { AgentRuntime } from "./agent.js";
import type { DriverFactory } from "./drivers.js";
import { AgentRuntimeError } from "./errors.js";
import { homeAssistantOptions } from "./home-assistant.js";

/** The agent's composition root: everything the runtime needs, built from one configuration. */
export async function startAgent(
  config: AgentConfig,
  deps: { log: Logger; notifier: ServiceNotifier; drivers: DriverFactory; now?: () => number },
): Promise<AgentRuntime> {
  const now = deps.now ?? Date.now;
  const identity = loadIdentity(config.identity, config.id, now());
  const aggregator = loadAggregatorCert(config.aggregator, identity, now());
  // Home first, then the others in the configured order after it: agents of different homes sharing
  // one list fail over to different aggregators.
  const listed = config.aggregators ?? [];
  const homeAt = Math.max(
    0,
    listed.findIndex((a) => a.id === config.aggregator.id),
  );
  const aggregators =
    listed.length === 0
      ? undefined
      : [...listed.slice(homeAt), ...listed.slice(0, homeAt)].map((a) => ({
          cert: a.id === aggregator.id ? aggregator : loadAggregatorCert(a, identity, now()),
          url: a.url,
        }));
  const drivers: MeterDriver[] = [];
  try {
    for (const entry of config.meters) drivers.push(await deps.drivers(entry));
  } catch (e) {
    await Promise.allSettled(drivers.map((d) => d.close()));
    throw e;
  }
  const ids = new Set(drivers.map((d) => d.id));
  if (ids.size !== drivers.length) throw new AgentRuntimeError("METER_CONFIG", "meter ids must be unique");
  const store = new AgentStore(config.store.path, config.id, () => seqFloor(now()));
  const clientId = config.mqtt.clientId ?? sessionClientId(config.id);
  const tls = readTlsFiles(config.mqtt.tls);
  const runtime = new AgentRuntime({
    id: config.id,
    intervalMs: config.intervalMs,
    identity,
    aggregator,
    ...(aggregators === undefined ? {} : { aggregators }),
    drivers,
    store,
    retention: { keepMs: config.store.keepReadingsDays * 86_400_000 },
    mqtt: { ...config.mqtt, clientId, tls },
    ...homeAssistantOptions(config, deps.log),
    notifier: deps.notifier,
    log: deps.log,
    now,
    trading: config.trading.enabled
      ? tradingHooks({
          id: config.id,
          config: config.trading,
          identity,
          aggregator,
          aggregators: aggregators?.map((a) => a.cert),
          store,
          mqtt: { url: aggregators?.[0].url ?? config.mqtt.url, clientId, tls },
          password: (cid, audience) =>
            loginToken(identity.key, identity.cert, {
              clientId: cid,
              audience,
              seq: store.nextLoginSeq(now()),
              now: now(),
            }),
          log: deps.log,
          now,
        })
      : undefined,
  });
  if (config.http !== undefined) {
    try {
      const http = await startAgentHttp(config.http, runtime, deps.log.child("http"));
      runtime.closeOnStop(() => http.close());
    } catch (e) {
      await runtime.stop();
      throw e;
    }
  }
  runtime.start();
  return runtime;
}

/** An aggregator's certificate file: the CA's, valid now, not revoked, and for the configured aggregator id. */
function loadAggregatorCert(
  entry: { id: string; cert: string },
  identity: LoadedIdentity,
  now: number,
): Certificate {
  const cert = readCertificateFile(entry.cert);
  verifyCertificate(cert, identity.ca, now, identity.revocations);
  if (cert.id !== entry.id || cert.role !== "aggregator") {
    throw new AgentRuntimeError(
      "IDENTITY_MISMATCH",
      `aggregator certificate ${entry.cert} is for ${cert.role} "${cert.id}", expected aggregator "${entry.id}"`,
    );
  }
  return cert;
}
