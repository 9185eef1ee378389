import type { AgentConfig } from "../../config/schema.js";
import { verifyCertificate } from "../../protocol/identity.js";
import { readCertificateFile } from "../../protocol/keyfile.js";
import type { Logger } from "../../protocol/log.js";
import { loginToken } from "../link/login.js";
import { readTlsFiles } from "../link/tls.js";
import type { MeterDriver } from "../meters/types.js";
import { tradingHooks } from "../participant/wire.js";
import { AgentStore } from "../store/agent-store.js";
import { AgentRuntime } from "./agent.js";
import type { DriverFactory } from "./drivers.js";
import { AgentRuntimeError } from "./errors.js";
import { loadIdentity } from "./identity.js";
import type { ServiceNotifier } from "./notify.js";

/** The agent's composition root: everything the runtime needs, built from one configuration. */
export async function startAgent(
  config: AgentConfig,
  deps: { log: Logger; notifier: ServiceNotifier; drivers: DriverFactory; now?: () => number },
): Promise<AgentRuntime> {
  const now = deps.now ?? Date.now;
  const identity = loadIdentity(config.identity, config.id, now());
  const aggregator = readCertificateFile(config.aggregator.cert);
  verifyCertificate(aggregator, identity.ca, now(), identity.revocations);
  if (aggregator.id !== config.aggregator.id || aggregator.role !== "aggregator") {
    throw new AgentRuntimeError(
      "IDENTITY_MISMATCH",
      `aggregator certificate ${config.aggregator.cert} is for ${aggregator.role} "${aggregator.id}", expected aggregator "${config.aggregator.id}"`,
    );
  }
  const drivers: MeterDriver[] = [];
  try {
    for (const entry of config.meters) drivers.push(await deps.drivers(entry));
  } catch (e) {
    await Promise.allSettled(drivers.map((d) => d.close()));
    throw e;
  }
  const ids = new Set(drivers.map((d) => d.id));
  if (ids.size !== drivers.length) throw new AgentRuntimeError("METER_CONFIG", "meter ids must be unique");
  const store = new AgentStore(config.store.path, config.id, () => now() * 1000);
  const clientId = config.mqtt.clientId ?? `gridlet-${config.id}`;
  const tls = readTlsFiles(config.mqtt.tls);
  const runtime = new AgentRuntime({
    id: config.id,
    intervalMs: config.intervalMs,
    identity,
    aggregator,
    drivers,
    store,
    mqtt: { ...config.mqtt, clientId, tls },
    homeAssistant: config.homeAssistant,
    notifier: deps.notifier,
    log: deps.log,
    now,
    trading: config.trading.enabled
      ? tradingHooks({
          id: config.id,
          config: config.trading,
          identity,
          aggregator,
          store,
          mqtt: { url: config.mqtt.url, clientId, tls },
          password: (cid) => loginToken(identity.key, identity.cert, cid, store.allocateSeq(), now()),
          log: deps.log,
          now,
        })
      : undefined,
  });
  runtime.start();
  return runtime;
}
