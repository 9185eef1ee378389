import { z } from "zod";
import { meterDeviceSchema } from "../agent/meters/config.js";
import { loadProfiles } from "../agent/meters/profiles/load.js";
import { DEFAULT_TRADING_CONFIG, tradingConfigSchema } from "../agent/participant/config.js";
import {
  bankSectionSchema,
  consensusSectionSchema,
  consortiumSectionSchema,
  genesisSectionSchema,
} from "../aggregator/service/config.js";

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

/** TLS to the broker: mqtts:// URLs; with Mosquitto the client certificate's CN is the identity id. */
const tlsSchema = z
  .object({
    ca: z.string().min(1).optional().describe("PEM CA bundle that signed the broker's certificate"),
    cert: z.string().min(1).optional().describe("PEM client certificate (CN = identity id)"),
    key: z.string().min(1).optional().describe("PEM client key"),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), "cert and key together");

const mqttSchema = z
  .object({
    url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, "an mqtt://, mqtts://, ws:// or wss:// URL"),
    /** fixed client id of the persistent session; default gridlet-<id> */
    clientId: z.string().min(1).max(128).optional(),
    tls: tlsSchema.optional(),
    keepaliveSeconds: z.number().int().min(5).max(3600).default(30),
    reconnectMinMs: z.number().int().min(100).default(1000),
    reconnectMaxMs: z.number().int().min(1000).default(60_000),
    /** envelopes published and not yet receipted, at most */
    inflight: z.number().int().min(1).max(100_000).default(1000),
    /** an unreceipted envelope this old makes the agent resend its outbox */
    receiptTimeoutMs: z.number().int().min(1000).default(30_000),
    /** with `aggregators`: the broker unreachable this long sends the agent to the next aggregator */
    failoverAfterMs: z.number().int().min(500).default(5000),
    /** away from home, the home broker is tried again this often */
    homeRetryMs: z.number().int().min(500).default(30_000),
  })
  .strict()
  .refine((m) => m.reconnectMinMs <= m.reconnectMaxMs, "reconnectMinMs not above reconnectMaxMs");

/** A constant-power meter needing no hardware (agent/runtime/drivers.ts), for smoke tests and demos. */
const syntheticMeterSchema = z
  .object({
    id: z.string().min(1).max(64),
    driver: z.literal("synthetic"),
    powerW: z.number().finite().default(1000),
    startWh: z.number().int().min(0).default(0),
    /** stop after this many readings (tests account for every reading) */
    readings: z.number().int().min(0).optional(),
  })
  .strict();

/** An aggregator of the consortium the agent may fail over to (docs/AGENT.md, "Fail-over"). */
const failoverAggregatorSchema = z
  .object({
    id: z.string().min(1),
    url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, "an mqtt://, mqtts://, ws:// or wss:// URL"),
    cert: z.string().min(1).describe("path of the aggregator's certificate"),
  })
  .strict();

let profileNames: string[] | undefined;
/** The names of the shipped meter profiles, read once: an unknown one is a configuration error (exit 2). */
function knownProfiles(): string[] {
  profileNames ??= [...loadProfiles().keys()].sort();
  return profileNames;
}

export const agentConfigSchema = z
  .object({
    version: z.literal(1),
    id: z.string().min(1),
    identity: identitySchema,
    /** the home aggregator, whose signature receipts must carry */
    aggregator: z.object({ id: z.string().min(1), cert: z.string().min(1) }).strict(),
    /** the aggregators to fail over to, in order, home included (first by convention); mqtt.url is the home's */
    aggregators: z.array(failoverAggregatorSchema).min(1).optional(),
    mqtt: mqttSchema,
    store: z.object({ path: z.string().min(1) }).strict(),
    /** one read of every meter per interval */
    intervalMs: z.number().int().min(100).max(3_600_000).default(1000),
    homeAssistant: z
      .object({
        enabled: z.boolean().default(true),
        prefix: z.string().min(1).default("homeassistant"),
        /** the retained state message is refreshed at most this often (HA needs no 1 s energy totals) */
        stateIntervalMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({ enabled: true, prefix: "homeassistant", stateIntervalMs: 10_000 }),
    /** the agent's trading behaviour (agent/participant/config.ts, docs/AGENT-TRADING.md); off by default */
    trading: tradingConfigSchema.default(DEFAULT_TRADING_CONFIG),
    /** the meter section's own schema (agent/meters/config.ts), plus the hardware-free synthetic meter */
    meters: z
      .array(z.discriminatedUnion("driver", [syntheticMeterSchema, ...meterDeviceSchema.options]))
      .min(1, "at least one meter"),
  })
  .strict()
  .superRefine((c, ctx) => {
    c.meters.forEach((m, i) => {
      if (!("profile" in m)) return;
      const known = knownProfiles();
      if (!known.includes(m.profile))
        ctx.addIssue({
          code: "custom",
          message: `a meter profile of hardware/profiles (${known.join(", ")})`,
          path: ["meters", i, "profile"],
        });
    });
    if (c.aggregators === undefined) return;
    const seen = new Set<string>();
    c.aggregators.forEach((a, i) => {
      if (seen.has(a.id))
        ctx.addIssue({
          code: "custom",
          message: `aggregator "${a.id}" listed twice`,
          path: ["aggregators", i, "id"],
        });
      seen.add(a.id);
    });
    if (!seen.has(c.aggregator.id))
      ctx.addIssue({
        code: "custom",
        message: `the home aggregator "${c.aggregator.id}" is not in the list`,
        path: ["aggregators"],
      });
  });

export const aggregatorConfigSchema = z
  .object({
    version: z.literal(1),
    id: z.string().min(1),
    identity: identitySchema,
    broker: z
      .object({
        embedded: z
          .object({
            host: z.string().default("127.0.0.1"),
            port: z.number().int().min(0).max(65535).default(1883),
          })
          .strict()
          .optional(),
        url: z
          .string()
          .regex(/^(mqtts?|wss?|tcp):\/\//, "an mqtt://, mqtts://, ws:// or wss:// URL")
          .optional(),
        clientId: z.string().min(1).max(128).optional(),
        tls: tlsSchema.optional(),
        /** broker user/password of the aggregator itself on an external broker (Mosquitto password file) */
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .strict()
      .refine((b) => (b.embedded === undefined) !== (b.url === undefined), "exactly one of embedded or url"),
    store: z.object({ path: z.string().min(1) }).strict(),
    /** directory of agents' certificates (ID.cert.json), for agents that never log in to an embedded broker */
    trust: z
      .object({
        certDir: z.string().min(1).optional(),
        /** identity.revocations is re-read this often; a newer CA-signed list takes effect at once */
        revocationsPollMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .default({ revocationsPollMs: 10_000 }),
    ingest: z
      .object({
        /** readings buffered by an agent through an outage of up to this long are still accepted */
        readingMaxAgeMs: z
          .number()
          .int()
          .min(60_000)
          .default(30 * 86_400_000),
        maxFutureMs: z.number().int().min(0).default(60_000),
        /** receipts are batched per agent for at most this long */
        receiptDelayMs: z.number().int().min(0).max(10_000).default(20),
      })
      .strict()
      .default({ readingMaxAgeMs: 30 * 86_400_000, maxFutureMs: 60_000, receiptDelayMs: 20 }),
    /** the replicated ledger (docs/CONSORTIUM.md): both CA-signed files, or neither (ingest only) */
    consortium: consortiumSectionSchema.optional(),
    genesis: genesisSectionSchema.optional(),
    bank: bankSectionSchema,
    consensus: consensusSectionSchema.optional(),
  })
  .strict()
  .refine((c) => (c.consortium === undefined) === (c.genesis === undefined), {
    message: "consortium and genesis go together",
    path: ["genesis"],
  })
  // peers subscribe to this aggregator's consensus traffic on its broker, logging in with tokens
  .refine((c) => c.consortium === undefined || c.broker.embedded !== undefined, {
    message: "a consortium member runs the embedded broker (peers log in to it with their tokens)",
    path: ["broker", "embedded"],
  });

export type TlsConfig = z.infer<typeof tlsSchema>;
export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AggregatorConfig = z.infer<typeof aggregatorConfigSchema>;
