import type { AgentConfig } from "../../config/agent.js";
import type { Logger } from "../../protocol/log.js";
import { readTlsFiles } from "../../protocol/tls.js";
import { gridletVersion } from "../../protocol/version.js";
import type { HaMessage } from "../link/home-assistant.js";
import { HaMirror } from "../link/home-assistant-mirror.js";
import type { AgentRuntimeOptions } from "./agent.js";

/** What HA shows as a meter's model: its profile and driver, e.g. "sdm630 (modbus-rtu)". */
function modelOf(m: AgentConfig["meters"][number]): string {
  return "profile" in m && typeof m.profile === "string" ? `${m.profile} (${m.driver})` : m.driver;
}

/** The runtime's Home Assistant options from the configuration, with the mirror to the operator's broker. */
export function homeAssistantOptions(
  config: AgentConfig,
  log: Logger,
): Pick<AgentRuntimeOptions, "homeAssistant" | "homeAssistantMirror"> {
  const ha = config.homeAssistant;
  const broker = ha.broker;
  return {
    homeAssistant: {
      enabled: ha.enabled,
      prefix: ha.prefix,
      stateIntervalMs: ha.stateIntervalMs,
      ...(ha.supportUrl === undefined ? {} : { supportUrl: ha.supportUrl }),
      meters: config.meters.map((m) => ({ id: m.id, model: modelOf(m) })),
      swVersion: gridletVersion(),
    },
    ...(broker === undefined || !ha.enabled
      ? {}
      : {
          homeAssistantMirror: (onConnect: () => HaMessage[]) =>
            new HaMirror({
              agentId: config.id,
              url: broker.url,
              ...(broker.username === undefined ? {} : { username: broker.username }),
              ...(broker.password === undefined ? {} : { password: broker.password }),
              clientId: broker.clientId ?? `gridlet-ha-${config.id}`,
              tls: readTlsFiles(broker.tls),
              onConnect,
              log: log.child("homeassistant"),
            }),
        }),
  };
}
