/**
 * The `meters:` section of the agent's configuration. The lead's config loader composes this schema;
 * each entry names one meter and how to reach it.
 */
import { z } from "#zod";

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, _ . - (max 64)");

/** Per-device timing of request/answer transports. */
const timing = {
  /** wait for an answer (Modbus) or a frame (P1/SML), ms */
  timeoutMs: z.number().int().min(10).max(60_000).optional(),
  /** extra silence before each request to this device, ms */
  delayMs: z.number().int().min(0).max(10_000).default(0),
  /** further attempts after a timeout, CRC error or garbage */
  retries: z.number().int().min(0).max(10).default(2),
};

const serial = {
  /** device path; /dev/serial/by-id/... links are resolved again at every reopen */
  path: z.string().min(1),
  baud: z.number().int().positive().optional(),
  parity: z.enum(["none", "even", "odd"]).optional(),
  stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
};

export const modbusRtuMeterSchema = z.strictObject({
  id,
  driver: z.literal("modbus-rtu"),
  ...serial,
  unitId: z.number().int().min(1).max(247),
  profile: z.string().min(1),
  ...timing,
});

export const modbusTcpMeterSchema = z.strictObject({
  id,
  driver: z.literal("modbus-tcp"),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  /** unit id behind a gateway; 255 or 1 for a meter that speaks TCP itself */
  unitId: z.number().int().min(0).max(255).default(1),
  profile: z.string().min(1),
  ...timing,
});

export const dsmrMeterSchema = z.strictObject({
  id,
  driver: z.literal("dsmr"),
  ...serial,
  /** 4: 115200 7E1; 5: 115200 8N1 (explicit baud/parity override) */
  dsmrVersion: z.union([z.literal(4), z.literal(5)]).default(5),
  ...timing,
});

export const smlMeterSchema = z.strictObject({
  id,
  driver: z.literal("sml"),
  ...serial,
  ...timing,
});

export const replayMeterSchema = z.strictObject({
  id,
  driver: z.literal("replay"),
  /** CSV log, see docs/METERS.md */
  file: z.string().min(1),
  /** log seconds per real second */
  speed: z.number().positive().max(1_000_000).default(1),
  loop: z.boolean().default(true),
  timestamps: z.enum(["log", "wall"]).default("wall"),
});

export const meterDeviceSchema = z.discriminatedUnion("driver", [
  modbusRtuMeterSchema,
  modbusTcpMeterSchema,
  dsmrMeterSchema,
  smlMeterSchema,
  replayMeterSchema,
]);

export const meterConfigSchema = z.array(meterDeviceSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((m, i) => {
    if (seen.has(m.id))
      ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicate meter id "${m.id}"` });
    seen.add(m.id);
  });
  // Meters on one serial port share one bus, so they must agree on the line settings.
  const lines = new Map<string, string>();
  list.forEach((m, i) => {
    if (m.driver !== "modbus-rtu") return;
    const key = `${m.baud ?? "profile"}/${m.parity ?? "profile"}/${m.stopBits ?? "profile"}`;
    const prev = lines.get(m.path);
    if (prev !== undefined && prev !== key) {
      ctx.addIssue({
        code: "custom",
        path: [i, "baud"],
        message: `line settings differ from another meter on ${m.path}`,
      });
    }
    lines.set(m.path, key);
  });
});

export type MeterDeviceConfig = z.output<typeof meterDeviceSchema>;
export type MeterConfig = z.output<typeof meterConfigSchema>;
export type MeterDeviceInput = z.input<typeof meterDeviceSchema>;
