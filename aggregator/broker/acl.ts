import { haNodeId } from "../../protocol/home-assistant.js";
import { HA_DISCOVERY_PREFIX, TOPIC_ROOT } from "../../protocol/topics.js";
import type { BrokerIdentity } from "./login.js";

/**
 * Who may publish and subscribe where (the same rules as config/mosquitto.acl.example):
 * an agent publishes only under its own `gridlet/v1/agent/<id>/` (never its `down`, which is the
 * aggregator's; per meter only Home Assistant's state and availability) and its own Home Assistant
 * discovery topics; it subscribes to its own `down` and to the
 * public aggregator and CA topics. An aggregator publishes to agents' `down` topics and under its own
 * topics; a peer aggregator subscribes to consensus traffic and its bank's bills only.
 */
export function mayPublish(who: BrokerIdentity, topic: string): boolean {
  if (topic.includes("+") || topic.includes("#")) return false;
  const parts = topic.split("/");
  if (who.role === "agent") {
    if (topic.startsWith(`${TOPIC_ROOT}/agent/${who.id}/`)) {
      if (parts.length === 5) return parts[4] !== "down";
      // Home Assistant's per-meter topics: gridlet/v1/agent/<id>/meter/<meter>/(state|availability)
      return (
        parts.length === 7 && parts[4] === "meter" && (parts[6] === "state" || parts[6] === "availability")
      );
    }
    // homeassistant/<component>/<node_id>/<object_id>/config
    return parts.length >= 4 && parts[0] === HA_DISCOVERY_PREFIX && parts[2] === haNodeId(who.id);
  }
  // The CA logs in (with a token its own key signs) only to hand its revocation list to a broker.
  if (who.role === "ca") return topic === `${TOPIC_ROOT}/ca/revocations`;
  if (who.role === "aggregator") {
    if (parts.length === 5 && topic.startsWith(`${TOPIC_ROOT}/agent/`) && parts[4] === "down") return true;
    if (topic.startsWith(`${TOPIC_ROOT}/aggregator/${who.id}/`)) return true;
    return topic === `${TOPIC_ROOT}/consensus/${who.id}` || topic === `${TOPIC_ROOT}/ca/revocations`;
  }
  return false;
}

function matchesPattern(filter: string, pattern: string): boolean {
  const f = filter.split("/");
  const p = pattern.split("/");
  if (f.length !== p.length) return false;
  return f.every((level, i) => p[i] === "+" || level === p[i]);
}

export function maySubscribe(who: BrokerIdentity, filter: string): boolean {
  if (filter.includes("#")) return false;
  // An aggregator that logs in to this broker is a peer of the consortium (this aggregator's own
  // subscriptions are in-process): it reads consensus traffic and the bills addressed to its bank,
  // never the agents' own topics.
  const allowed =
    who.role === "aggregator"
      ? [
          `${TOPIC_ROOT}/consensus/+/all`,
          `${TOPIC_ROOT}/consensus/+/to/${who.id}`,
          `${TOPIC_ROOT}/bank/${who.id}/bills`,
          `${TOPIC_ROOT}/aggregator/+/status`,
          `${TOPIC_ROOT}/ca/revocations`,
        ]
      : who.role === "agent"
        ? agentSubscriptions(who.id)
        : [];
  // A "+" in the filter only passes where the pattern has one, so nobody can widen to others' topics.
  return allowed.some(
    (p) =>
      matchesPattern(filter, p) && filter.split("/").every((l, i) => l !== "+" || p.split("/")[i] === "+"),
  );
}

function agentSubscriptions(id: string): string[] {
  return [
    `${TOPIC_ROOT}/agent/${id}/down`,
    `${TOPIC_ROOT}/aggregator/+/announce`,
    `${TOPIC_ROOT}/aggregator/+/status`,
    `${TOPIC_ROOT}/ca/revocations`,
  ];
}
