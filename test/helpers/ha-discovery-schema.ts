import { z } from "#zod";

/**
 * Home Assistant's MQTT sensor discovery schema, as far as Gridlet uses it, written from HA's documents
 * and the validation in its source: home-assistant.io "MQTT" (discovery payloads, `origin`,
 * `default_entity_id` replacing `object_id` in 2025.10), "MQTT Sensor", and core's
 * `components/mqtt/schemas.py` (device needs an identifier or a connection; origin needs a name) and
 * `components/sensor/const.py` (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES). Strict: a key HA does
 * not document for a sensor (`object_id` included) fails.
 */

/** HA's `valid_entity_id`: domain.object_id, lower case, digits and single underscores inside. */
export const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;

/** The units HA accepts per device class (only the classes an electricity meter uses). */
export const DEVICE_CLASS_UNITS: Record<string, readonly string[]> = {
  energy: ["J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"],
  power: ["mW", "W", "kW", "MW", "GW", "TW"],
  voltage: ["μV", "µV", "mV", "V", "kV", "MV"],
  current: ["mA", "A"],
  frequency: ["Hz", "kHz", "MHz", "GHz"],
};

/** The state classes HA accepts per device class. */
export const DEVICE_CLASS_STATE_CLASSES: Record<string, readonly string[]> = {
  energy: ["total", "total_increasing"],
  power: ["measurement"],
  voltage: ["measurement"],
  current: ["measurement"],
  frequency: ["measurement"],
};

/** A topic HA subscribes to: non-empty, no wildcard in a state or availability topic, no NUL. */
const topic = z
  .string()
  .min(1)
  .max(65535)
  .refine(
    (t) => !t.includes("#") && !t.includes("+") && !t.includes(String.fromCharCode(0)),
    "a topic without wildcards or NUL",
  );

const availability = z
  .object({
    topic,
    payload_available: z.string().optional(),
    payload_not_available: z.string().optional(),
    value_template: z.string().optional(),
  })
  .strict();

const device = z
  .object({
    identifiers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    connections: z.array(z.tuple([z.string(), z.string()])).optional(),
    manufacturer: z.string().optional(),
    model: z.string().optional(),
    model_id: z.string().optional(),
    name: z.string().optional(),
    hw_version: z.string().optional(),
    sw_version: z.string().optional(),
    serial_number: z.string().optional(),
    suggested_area: z.string().optional(),
    via_device: z.string().optional(),
    configuration_url: z.url().optional(),
  })
  .strict()
  .refine((d) => d.identifiers !== undefined || (d.connections?.length ?? 0) > 0, {
    message: "a device needs at least one identifier or connection",
  });

const origin = z
  .object({
    name: z.string().min(1),
    sw_version: z.string().optional(),
    support_url: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();

export const haSensorDiscoverySchema = z
  .object({
    name: z.string().nullable().optional(),
    unique_id: z.string().min(1),
    default_entity_id: z.string().regex(ENTITY_ID, "an entity id").startsWith("sensor.", "the sensor domain"),
    device_class: z.enum(Object.keys(DEVICE_CLASS_UNITS) as [string, ...string[]]),
    state_class: z.enum(["measurement", "measurement_angle", "total", "total_increasing"]),
    unit_of_measurement: z.string(),
    suggested_display_precision: z.number().int().min(0).optional(),
    state_topic: topic,
    value_template: z.string().min(1).optional(),
    availability: z.array(availability).min(1).optional(),
    availability_topic: topic.optional(),
    availability_mode: z.enum(["all", "any", "latest"]).optional(),
    payload_available: z.string().optional(),
    payload_not_available: z.string().optional(),
    expire_after: z.number().int().min(0).optional(),
    force_update: z.boolean().optional(),
    icon: z.string().optional(),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
    device,
    origin,
  })
  .strict()
  .superRefine((c, ctx) => {
    const units = DEVICE_CLASS_UNITS[c.device_class] ?? [];
    if (!units.includes(c.unit_of_measurement))
      ctx.addIssue({
        code: "custom",
        path: ["unit_of_measurement"],
        message: `${c.unit_of_measurement} is not a unit of device class ${c.device_class} (${units.join(", ")})`,
      });
    const states = DEVICE_CLASS_STATE_CLASSES[c.device_class] ?? [];
    if (!states.includes(c.state_class))
      ctx.addIssue({
        code: "custom",
        path: ["state_class"],
        message: `${c.state_class} is not a state class of device class ${c.device_class} (${states.join(", ")})`,
      });
    if (c.availability !== undefined && c.availability_topic !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["availability"],
        message: "availability and availability_topic exclude each other",
      });
  });

export type HaSensorDiscovery = z.infer<typeof haSensorDiscoverySchema>;
