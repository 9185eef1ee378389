/**
 * Meter profiles are data (hardware/profiles/*.json), validated here. Each quantity says where the
 * meter keeps it on the wire and how to turn its registers into the unit the agent uses (Wh, W, V, A, Hz).
 */
import { z } from "#zod";

/** Addresses are wire addresses (0-based PDU addresses), written as numbers or "0x..." strings. */
const address = z
  .union([z.number().int(), z.string().regex(/^0x[0-9a-fA-F]{1,4}$/, 'hex address like "0x0048"')])
  .transform((v) => (typeof v === "number" ? v : Number.parseInt(v.slice(2), 16)))
  .pipe(z.number().int().min(0).max(0xffff));

export const quantitySchema = z.strictObject({
  fc: z.union([z.literal(3), z.literal(4)]),
  address,
  type: z.enum(["uint16", "int16", "uint32", "int32", "float32", "uint64", "int64"]),
  wordOrder: z.enum(["high-first", "low-first"]).default("high-first"),
  /** multiply the raw value by this to get the agent's unit */
  scale: z.number().positive().default(1),
  /**
   * The meter may refuse this register with exception 2 (illegal data address), e.g. the export counter
   * of an EM24 configured for import only: read alone, and treated as absent (0) with a counter.
   */
  mayBeAbsent: z.boolean().default(false),
});

export const QUANTITIES = ["importWh", "exportWh", "powerW", "voltageV", "currentA", "frequencyHz"] as const;
export type QuantityName = (typeof QUANTITIES)[number];

export const profileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case name like sdm630"),
  manufacturer: z.string().min(1),
  model: z.string().min(1),
  /** where the map comes from and what is unsure about it */
  notes: z.string().default(""),
  line: z
    .strictObject({
      baud: z.number().int().positive().default(9600),
      parity: z.enum(["none", "even", "odd"]).default("none"),
      stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    })
    .prefault({}),
  /** the planner merges registers into one read while the block stays within these */
  maxBlockRegisters: z.number().int().min(1).max(125).default(64),
  maxGap: z.number().int().min(0).max(124).default(16),
  quantities: z.strictObject({
    importWh: quantitySchema,
    exportWh: quantitySchema.optional(),
    powerW: quantitySchema,
    voltageV: quantitySchema.optional(),
    currentA: quantitySchema.optional(),
    frequencyHz: quantitySchema.optional(),
  }),
});

export type MeterProfile = z.output<typeof profileSchema>;
export type QuantitySpec = z.output<typeof quantitySchema>;
