import { haNodeId } from "../../protocol/home-assistant.js";
import { HA_DISCOVERY_PREFIX, STATUS_OFFLINE, STATUS_ONLINE, topics } from "../../protocol/topics.js";
import type { MeterReading } from "../meters/types.js";

/**
 * Home Assistant MQTT discovery: retained config messages that make each meter appear with no
 * configuration, availability following the agent's retained status (and its last will). The sensors
 * read one retained JSON state message per agent.
 */

/** Retained plain JSON `{ "<meter>": { import_kwh, export_kwh, power_w, ts } }` for Home Assistant. */
export const haStateTopic = topics.agentState;

export { haNodeId };

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

interface SensorSpec {
  key: string;
  name: string;
  deviceClass: string;
  stateClass: string;
  unit: string;
  field: string;
}

const SENSORS: SensorSpec[] = [
  {
    key: "import",
    name: "Energy import",
    deviceClass: "energy",
    stateClass: "total_increasing",
    unit: "kWh",
    field: "import_kwh",
  },
  {
    key: "export",
    name: "Energy export",
    deviceClass: "energy",
    stateClass: "total_increasing",
    unit: "kWh",
    field: "export_kwh",
  },
  {
    key: "power",
    name: "Power",
    deviceClass: "power",
    stateClass: "measurement",
    unit: "W",
    field: "power_w",
  },
];

export function discoveryMessages(
  agentId: string,
  meters: readonly string[],
  prefix: string = HA_DISCOVERY_PREFIX,
): DiscoveryMessage[] {
  const node = haNodeId(agentId);
  const out: DiscoveryMessage[] = [];
  for (const meter of meters) {
    const meterKey = meter.replace(/[^A-Za-z0-9_-]/g, "_");
    for (const s of SENSORS) {
      const objectId = `${meterKey}_${s.key}`;
      out.push({
        topic: `${prefix}/sensor/${node}/${objectId}/config`,
        payload: JSON.stringify({
          name: `${meter} ${s.name}`,
          unique_id: `${node}_${objectId}`,
          object_id: `${node}_${objectId}`,
          device_class: s.deviceClass,
          state_class: s.stateClass,
          unit_of_measurement: s.unit,
          state_topic: haStateTopic(agentId),
          value_template: `{{ value_json[${JSON.stringify(meter)}].${s.field} }}`,
          availability_topic: topics.agentStatus(agentId),
          payload_available: STATUS_ONLINE,
          payload_not_available: STATUS_OFFLINE,
          device: {
            identifiers: [node],
            name: `Gridlet ${agentId}`,
            manufacturer: "Gridlet",
            model: "gridlet agent",
          },
        }),
      });
    }
  }
  return out;
}

/** The state document from the latest reading of each meter; kWh with Wh resolution. */
export function haStatePayload(latest: ReadonlyMap<string, MeterReading>): string {
  const doc: Record<string, { import_kwh: number; export_kwh: number; power_w: number; ts: number }> = {};
  for (const [meter, r] of latest) {
    doc[meter] = {
      import_kwh: r.importWh / 1000,
      export_kwh: r.exportWh / 1000,
      power_w: r.powerW,
      ts: r.ts,
    };
  }
  return JSON.stringify(doc);
}
