import { z } from "zod";

/**
 * The one configuration schema, composed of the sections each part of Gridlet owns. Field docs live in
 * the commented examples (config/agent.example.yaml, config/aggregator.example.yaml).
 */

const identitySchema = z
  .object({
    key: z.string().min(1).describe("path of the identity's key file (mode 0600)"),
    cert: z.string().min(1).describe("path of the identity's certificate"),
    ca: z.string().min(1).describe("path of the CA certificate"),
    revocations: z.string().min(1).optional().describe("path of the CA's signed revocation list"),
  })
  .strict();

const mqttSchema = z
  .object({
    url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, "an mqtt://, mqtts://, ws:// or wss:// URL"),
    keepaliveSeconds: z.number().int().min(5).max(3600).default(30),
    reconnectMinMs: z.number().int().min(100).default(1000),
    reconnectMaxMs: z.number().int().min(1000).default(60_000),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    version: z.literal(1),
    id: z.string().min(1),
    identity: identitySchema,
    mqtt: mqttSchema,
    store: z.object({ path: z.string().min(1) }).strict(),
    meters: z.array(z.record(z.string(), z.unknown())).min(1, "at least one meter"),
  })
  .strict();

export const aggregatorConfigSchema = z
  .object({
    version: z.literal(1),
    id: z.string().min(1),
    identity: identitySchema,
    broker: z
      .object({
        embedded: z
          .object({ host: z.string().default("127.0.0.1"), port: z.number().int().min(1).max(65535).default(1883) })
          .strict()
          .optional(),
        url: z.string().optional(),
      })
      .strict()
      .refine((b) => (b.embedded === undefined) !== (b.url === undefined), "exactly one of embedded or url"),
    store: z.object({ path: z.string().min(1) }).strict(),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AggregatorConfig = z.infer<typeof aggregatorConfigSchema>;
