/**
 * The MQTT topic layout (docs/PROTOCOL.md, "Topics"). Every payload on a gridlet/ topic is a signed
 * envelope, except the retained status words. An agent may publish only under its own
 * `gridlet/v1/agent/<id>/` (and its own Home Assistant discovery topics); the broker's authorisation
 * hook enforces that.
 */
export const TOPIC_ROOT = "gridlet/v1";

export const topics = {
  /** agent → its aggregator: readings, orders, deposits, confirmations, credit requests (QoS 1) */
  agentUp: (agentId: string) => `${TOPIC_ROOT}/agent/${agentId}/up`,
  /** aggregator → one agent: receipts, fills (encrypted), tokens (QoS 1) */
  agentDown: (agentId: string) => `${TOPIC_ROOT}/agent/${agentId}/down`,
  /** retained "online" / "offline" (the last will) */
  agentStatus: (agentId: string) => `${TOPIC_ROOT}/agent/${agentId}/status`,
  /** retained plain JSON of a meter's latest reading, for Home Assistant's sensors (not an envelope) */
  meterState: (agentId: string, meterKey: string) => `${TOPIC_ROOT}/agent/${agentId}/meter/${meterKey}/state`,
  /** retained "online" / "offline": whether the meter answers (Home Assistant's per-meter availability) */
  meterAvailability: (agentId: string, meterKey: string) =>
    `${TOPIC_ROOT}/agent/${agentId}/meter/${meterKey}/availability`,
  /** aggregator → all its agents: market announcements (aggregate demand, reference price), blacklist */
  aggregatorAnnounce: (aggregatorId: string) => `${TOPIC_ROOT}/aggregator/${aggregatorId}/announce`,
  aggregatorStatus: (aggregatorId: string) => `${TOPIC_ROOT}/aggregator/${aggregatorId}/status`,
  /** consensus traffic one aggregator publishes on its own broker for every peer (aggregator/service/peer-link.ts) */
  consensus: (aggregatorId: string) => `${TOPIC_ROOT}/consensus/${aggregatorId}/all`,
  /** the CA's signed revocation list, retained */
  revocations: () => `${TOPIC_ROOT}/ca/revocations`,
} as const;

export const STATUS_ONLINE = "online";
export const STATUS_OFFLINE = "offline";

/** Splits `gridlet/v1/agent/<id>/<leaf>`; undefined for any other topic. */
export function parseAgentTopic(topic: string): { agentId: string; leaf: string } | undefined {
  const parts = topic.split("/");
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[2] !== "agent")
    return undefined;
  return { agentId: parts[3], leaf: parts[4] };
}

/** Home Assistant discovery prefix (its default). */
export const HA_DISCOVERY_PREFIX = "homeassistant";
