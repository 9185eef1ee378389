import { haNodeId } from "../../protocol/home-assistant.js";
import { HA_DISCOVERY_PREFIX, STATUS_OFFLINE, STATUS_ONLINE, topics } from "../../protocol/topics.js";
import type { MeterReading } from "../meters/types.js";

/**
 * Home Assistant MQTT discovery (home-assistant.io, "MQTT", "Discovery messages"; sensor schema in HA's
 * `components/sensor/const.py`): one retained config per measured quantity of each meter, one device per
 * meter, availability from both the agent's status (its last will) and the meter's own availability
 * topic, and a retained state JSON per meter published on every reading. Pure: it says what to publish;
 * the MQTT link or the mirror to the operator's broker (home-assistant-mirror.ts) publishes it.
 */

export { haNodeId };

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

/** A retained message with its QoS: discovery and availability at 1, the frequent state at 0. */
export interface HaMessage extends DiscoveryMessage {
  qos: 0 | 1;
}

export interface HaMeter {
  id: string;
  /** what HA shows as the device's model, e.g. "sdm630 (modbus-rtu)" */
  model: string;
}

export interface HaOptions {
  agentId: string;
  meters: readonly HaMeter[];
  prefix?: string;
  /** Gridlet's version: the device's and the origin's sw_version */
  swVersion: string;
  /** origin.support_url; omitted when not known */
  supportUrl?: string;
  /** the state of a meter is published at most this often (0: on every reading) */
  stateIntervalMs?: number;
}

type Field = "import_kwh" | "export_kwh" | "power_w" | "voltage_v" | "current_a" | "frequency_hz";

interface SensorSpec {
  key: string;
  name: string;
  field: Field;
  deviceClass: "energy" | "power" | "voltage" | "current" | "frequency";
  stateClass: "total_increasing" | "measurement";
  unit: "kWh" | "W" | "V" | "A" | "Hz";
  precision: number;
}

/** HA's device class → allowed state classes and units for these six (sensor/const.py). */
export const SENSORS: readonly SensorSpec[] = [
  {
    key: "import",
    name: "Energy import",
    field: "import_kwh",
    deviceClass: "energy",
    stateClass: "total_increasing",
    unit: "kWh",
    precision: 3,
  },
  {
    key: "export",
    name: "Energy export",
    field: "export_kwh",
    deviceClass: "energy",
    stateClass: "total_increasing",
    unit: "kWh",
    precision: 3,
  },
  {
    key: "power",
    name: "Power",
    field: "power_w",
    deviceClass: "power",
    stateClass: "measurement",
    unit: "W",
    precision: 0,
  },
  {
    key: "voltage",
    name: "Voltage",
    field: "voltage_v",
    deviceClass: "voltage",
    stateClass: "measurement",
    unit: "V",
    precision: 1,
  },
  {
    key: "current",
    name: "Current",
    field: "current_a",
    deviceClass: "current",
    stateClass: "measurement",
    unit: "A",
    precision: 2,
  },
  {
    key: "frequency",
    name: "Frequency",
    field: "frequency_hz",
    deviceClass: "frequency",
    stateClass: "measurement",
    unit: "Hz",
    precision: 2,
  },
];

/** A meter id as an MQTT topic level and HA object id: [A-Za-z0-9_-]. */
export function haMeterKey(meter: string): string {
  return meter.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** An HA entity object id: lower case [a-z0-9_], no leading, trailing or doubled underscore. */
export function haSlug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

export const haTopics = {
  /** retained JSON of the meter's latest reading (`import_kwh`, `power_w`, ..., `ts`) */
  state: (agentId: string, meter: string) => topics.meterState(agentId, haMeterKey(meter)),
  /** retained "online" while the meter answers, "offline" while its reads fail */
  availability: (agentId: string, meter: string) => topics.meterAvailability(agentId, haMeterKey(meter)),
};

/** The fields a reading carries; energies in kWh with Wh resolution. */
export function stateFields(r: MeterReading): Partial<Record<Field, number>> & { ts: number } {
  const s: Partial<Record<Field, number>> & { ts: number } = {
    import_kwh: r.importWh / 1000,
    export_kwh: r.exportWh / 1000,
    power_w: r.powerW,
    ts: r.ts,
  };
  if (r.voltageV !== undefined) s.voltage_v = r.voltageV;
  if (r.currentA !== undefined) s.current_a = r.currentA;
  if (r.frequencyHz !== undefined) s.frequency_hz = r.frequencyHz;
  return s;
}

/** The discovery config of one sensor of one meter. */
export function sensorConfig(o: HaOptions, meter: HaMeter, s: SensorSpec): DiscoveryMessage {
  const node = haNodeId(o.agentId);
  const meterKey = haMeterKey(meter.id);
  const objectId = `${meterKey}_${s.key}`;
  const prefix = o.prefix ?? HA_DISCOVERY_PREFIX;
  const origin: Record<string, string> = { name: "gridlet", sw_version: o.swVersion };
  if (o.supportUrl !== undefined) origin.support_url = o.supportUrl;
  return {
    topic: `${prefix}/sensor/${node}/${objectId}/config`,
    payload: JSON.stringify({
      name: s.name,
      unique_id: `${node}_${objectId}`,
      // HA 2025.10 replaced object_id by default_entity_id (domain included); 2026.4 ignores object_id.
      default_entity_id: `sensor.${haSlug(`${node}_${objectId}`)}`,
      device_class: s.deviceClass,
      state_class: s.stateClass,
      unit_of_measurement: s.unit,
      suggested_display_precision: s.precision,
      state_topic: haTopics.state(o.agentId, meter.id),
      value_template: `{{ value_json.${s.field} }}`,
      availability: [
        {
          topic: topics.agentStatus(o.agentId),
          payload_available: STATUS_ONLINE,
          payload_not_available: STATUS_OFFLINE,
        },
        {
          topic: haTopics.availability(o.agentId, meter.id),
          payload_available: STATUS_ONLINE,
          payload_not_available: STATUS_OFFLINE,
        },
      ],
      availability_mode: "all",
      device: {
        identifiers: [`${node}_${meterKey}`],
        name: `${o.agentId} ${meter.id}`,
        manufacturer: "Gridlet",
        model: meter.model,
        sw_version: o.swVersion,
      },
      origin,
    }),
  };
}

/** Discovery configs of the basic sensors (energy and power) of every meter, before any reading. */
export function discoveryMessages(o: HaOptions): DiscoveryMessage[] {
  return o.meters.flatMap((m) => SENSORS.slice(0, 3).map((s) => sensorConfig(o, m, s)));
}

/**
 * What to publish, and when: on every (re)connect, the discovery configs of each meter's quantities seen
 * so far, its availability and its latest state; on each reading, the state (and, the first time a
 * quantity appears, its discovery config; after a failure, availability online); on a failure,
 * availability offline. Everything is retained, so HA restarting later still finds it.
 */
export class HaPublisher {
  private readonly o: HaOptions;
  private readonly seen = new Map<string, Set<Field>>();
  private readonly latest = new Map<string, MeterReading>();
  private readonly available = new Map<string, boolean>();
  private readonly lastStateAt = new Map<string, number>();

  constructor(o: HaOptions) {
    this.o = o;
    for (const m of o.meters) this.seen.set(m.id, new Set(["import_kwh", "export_kwh", "power_w"]));
  }

  onConnect(): HaMessage[] {
    const out: HaMessage[] = [];
    for (const m of this.o.meters) {
      const seen = this.seen.get(m.id)!;
      for (const s of SENSORS) if (seen.has(s.field)) out.push({ ...sensorConfig(this.o, m, s), qos: 1 });
      const up = this.available.get(m.id);
      if (up !== undefined) out.push(this.availability(m.id, up));
      const r = this.latest.get(m.id);
      if (r !== undefined) out.push(this.state(r));
    }
    return out;
  }

  reading(r: MeterReading, now: number): HaMessage[] {
    const meter = this.o.meters.find((m) => m.id === r.meter);
    if (meter === undefined) return [];
    this.latest.set(r.meter, r);
    const out: HaMessage[] = [];
    const fields = stateFields(r);
    const seen = this.seen.get(r.meter)!;
    for (const s of SENSORS) {
      if (fields[s.field] === undefined || seen.has(s.field)) continue;
      seen.add(s.field);
      out.push({ ...sensorConfig(this.o, meter, s), qos: 1 });
    }
    if (this.available.get(r.meter) !== true) {
      this.available.set(r.meter, true);
      out.push(this.availability(r.meter, true));
    }
    const last = this.lastStateAt.get(r.meter);
    if (last === undefined || now - last >= (this.o.stateIntervalMs ?? 0)) {
      this.lastStateAt.set(r.meter, now);
      out.push(this.state(r));
    }
    return out;
  }

  failure(meter: string): HaMessage[] {
    if (this.available.get(meter) === false || !this.o.meters.some((m) => m.id === meter)) return [];
    this.available.set(meter, false);
    return [this.availability(meter, false)];
  }

  private state(r: MeterReading): HaMessage {
    return {
      topic: haTopics.state(this.o.agentId, r.meter),
      payload: JSON.stringify(stateFields(r)),
      qos: 0,
    };
  }

  private availability(meter: string, up: boolean): HaMessage {
    return {
      topic: haTopics.availability(this.o.agentId, meter),
      payload: up ? STATUS_ONLINE : STATUS_OFFLINE,
      qos: 1,
    };
  }
}
