import { collectDefaultMetrics } from "#prom-client";
import { type Sample, ScrapedMetrics } from "../../protocol/http/metrics.js";
import type { AgentSnapshot } from "../runtime/snapshot.js";

const DRIVER_COUNTERS = [
  ["reads", "gridlet_meter_reads_total", "requests answered by the meter (driver level)"],
  ["crcErrors", "gridlet_meter_crc_errors_total", "frames with a bad CRC"],
  ["timeouts", "gridlet_meter_timeouts_total", "requests the meter did not answer in time"],
  ["exceptions", "gridlet_meter_exceptions_total", "Modbus exception responses"],
  ["garbage", "gridlet_meter_garbage_total", "bytes or frames that were not a valid answer"],
  ["reconnects", "gridlet_meter_reconnects_total", "serial port or TCP connection reopened"],
  ["absent", "gridlet_meter_absent_values_total", "optional values the meter refused, reported as 0"],
] as const;

/** The agent's Prometheus metrics (docs/AGENT.md, "HTTP: metrics, status, health"), read from a snapshot. */
export function agentMetrics(snap: () => AgentSnapshot): ScrapedMetrics {
  const m = new ScrapedMetrics();
  collectDefaultMetrics({ register: m.registry });
  const perMeter = (f: (x: AgentSnapshot["meters"][number]) => number | undefined): Sample[] =>
    snap().meters.flatMap((x): Sample[] => {
      const v = f(x);
      return v === undefined ? [] : [[{ meter: x.id }, v]];
    });
  const seconds = (ms: number) => ms / 1000;

  m.counter("gridlet_agent_readings_total", "readings stored, per meter", ["meter"], () =>
    perMeter((x) => x.readings),
  );
  m.counter("gridlet_agent_read_failures_total", "meter reads that failed, per meter", ["meter"], () =>
    perMeter((x) => x.failures),
  );
  for (const [key, name, help] of DRIVER_COUNTERS)
    m.counter(name, help, ["meter"], () => perMeter((x) => x.driver[key] ?? 0));
  m.gauge("gridlet_agent_meter_up", "1 while the meter's last read succeeded", ["meter"], () =>
    perMeter((x) => (x.failing === null && x.lastStoredAt !== null ? 1 : 0)),
  );
  m.gauge(
    "gridlet_agent_last_reading_age_seconds",
    "time since the meter's last stored reading",
    ["meter"],
    () => perMeter((x) => (x.lastStoredAt === null ? undefined : seconds(snap().at - x.lastStoredAt))),
  );
  m.gauge(
    "gridlet_agent_outbox_depth",
    "signed envelopes waiting for a receipt",
    [],
    () => snap().outbox.outboxDepth,
  );
  m.gauge(
    "gridlet_agent_dead_letters",
    "envelopes the aggregator refused for good",
    [],
    () => snap().outbox.deadLetters,
  );
  m.gauge("gridlet_agent_last_receipt_age_seconds", "time since the last receipt was applied", [], () => {
    const s = snap();
    return s.outbox.lastReceiptAt === null ? undefined : seconds(s.at - s.outbox.lastReceiptAt);
  });
  m.counter("gridlet_agent_receipts_total", "signed receipts applied", [], () => snap().runtime.receipts);
  m.counter(
    "gridlet_agent_acknowledged_total",
    "envelopes receipted and removed from the outbox",
    [],
    () => snap().runtime.acked,
  );
  m.counter(
    "gridlet_agent_bad_receipts_total",
    "down messages refused (signature, shape, address)",
    [],
    () => snap().runtime.badReceipts,
  );
  m.counter(
    "gridlet_agent_dead_lettered_total",
    "envelopes moved to the dead letters",
    [],
    () => snap().runtime.deadLettered,
  );
  m.counter(
    "gridlet_agent_foreign_down_total",
    "down messages from an aggregator not configured",
    [],
    () => snap().runtime.foreignDown,
  );
  m.gauge("gridlet_agent_mqtt_connected", "1 while connected to an aggregator's broker", [], () =>
    snap().link.connected ? 1 : 0,
  );
  m.counter(
    "gridlet_agent_mqtt_connects_total",
    "successful broker connections",
    [],
    () => snap().link.connects,
  );
  m.counter("gridlet_agent_mqtt_published_total", "envelopes published", [], () => snap().link.published);
  m.counter(
    "gridlet_agent_mqtt_resends_total",
    "outbox resends after a receipt timeout",
    [],
    () => snap().link.resends,
  );
  m.gauge(
    "gridlet_agent_mqtt_inflight",
    "envelopes published and not yet receipted",
    [],
    () => snap().link.inflight,
  );
  m.gauge(
    "gridlet_agent_broker",
    "1 for the aggregator whose broker the agent uses now",
    ["aggregator", "home"],
    () => {
      const l = snap().link;
      return [[{ aggregator: l.broker, home: String(l.broker === l.home) }, 1]];
    },
  );
  m.gauge("gridlet_agent_failed_over", "1 while the agent uses another aggregator than its home", [], () => {
    const l = snap().link;
    return l.broker === l.home ? 0 : 1;
  });
  m.counter(
    "gridlet_agent_failovers_total",
    "moves to another aggregator's broker",
    [],
    () => snap().link.failovers,
  );
  m.gauge(
    "gridlet_agent_homeassistant_mirror_connected",
    "1 while connected to the operator's Home Assistant broker",
    [],
    () => {
      const mirror = snap().homeAssistant.mirror;
      return mirror === null ? undefined : mirror.connected ? 1 : 0;
    },
  );
  return m;
}
