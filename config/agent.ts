import { z } from "#zod";
import { meterDeviceSchema } from "../agent/meters/config.js";
import { loadProfiles } from "../agent/meters/profiles/load.js";
import { DEFAULT_TRADING_CONFIG, tradingConfigSchema } from "../agent/participant/config.js";
import { DEFAULT_AGENT_HTTP_PORT, httpSectionSchema } from "../protocol/http/config.js";
import { ownsClientId } from "../protocol/login.js";
import { brokerUrlSchema, identitySchema, keepReadingsDays, mqttSchema, tlsSchema } from "./common.js";

/**
 * Eight days: a trading agent's meter summaries, accepted up to 7 days old, are built from its readings
 * and their signed envelopes. About 44 MB per meter-day at one reading a second (docs/OPERATIONS.md,
 * "Retention").
 */
export const DEFAULT_AGENT_KEEP_DAYS = 8;
/** the least retention of a trading agent: last week's summaries still find their readings */
const MIN_TRADING_KEEP_DAYS = 8;

/** The agent's configuration, composed of the sections each part of the agent owns. */

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
    url: brokerUrlSchema,
    cert: z.string().min(1).describe("path of the aggregator's certificate"),
  })
  .strict();

/** The operator's broker for Home Assistant: plain MQTT credentials, nothing of the agent's identity. */
const haBrokerSchema = z
  .object({
    /** plain mqtt:// only to this machine, as every broker URL (config/common.ts) */
    url: brokerUrlSchema,
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    /** default gridlet-ha-<id> */
    clientId: z.string().min(1).max(128).optional(),
    tls: tlsSchema.optional(),
  })
  .strict()
  .refine((b) => b.password === undefined || b.username !== undefined, {
    message: "a password needs a username",
    path: ["username"],
  });

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
    store: z
      .object({
        path: z.string().min(1),
        /** receipted readings older than this are deleted (they are at the aggregator); 0: never */
        keepReadingsDays: keepReadingsDays(DEFAULT_AGENT_KEEP_DAYS),
      })
      .strict(),
    /** one read of every meter per interval */
    intervalMs: z.number().int().min(100).max(3_600_000).default(1000),
    /** Home Assistant discovery, state and availability (docs/AGENT.md, "Home Assistant") */
    homeAssistant: z
      .object({
        enabled: z.boolean().default(true),
        prefix: z.string().min(1).default("homeassistant"),
        /** a meter's retained state is published at most this often; 0: on every reading */
        stateIntervalMs: z.number().int().min(0).default(0),
        /** origin.support_url of the discovery messages (where the operator gets help); omitted when unset */
        supportUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** the operator's own broker, the one Home Assistant reads; absent: the aggregator's broker */
        broker: haBrokerSchema.optional(),
      })
      .strict()
      .default({ enabled: true, prefix: "homeassistant", stateIntervalMs: 0 }),
    /** /metrics, /api/status, /healthz (docs/AGENT.md, "HTTP"); absent: no HTTP server */
    http: httpSectionSchema(DEFAULT_AGENT_HTTP_PORT).optional(),
    /** the agent's trading behaviour (agent/participant/config.ts, docs/AGENT-TRADING.md); off by default */
    trading: tradingConfigSchema.default(DEFAULT_TRADING_CONFIG),
    /** the meter section's own schema (agent/meters/config.ts), plus the hardware-free synthetic meter */
    meters: z
      .array(z.discriminatedUnion("driver", [syntheticMeterSchema, ...meterDeviceSchema.options]))
      .min(1, "at least one meter"),
  })
  .strict()
  .superRefine((c, ctx) => {
    const keep = c.store.keepReadingsDays;
    if (c.trading.enabled && keep !== 0 && keep < MIN_TRADING_KEEP_DAYS)
      ctx.addIssue({
        code: "custom",
        message: `0 (keep for ever) or at least ${MIN_TRADING_KEEP_DAYS} days when trading is enabled (a meter summary of last week is built from its readings)`,
        path: ["store", "keepReadingsDays"],
      });
    if (c.mqtt.clientId !== undefined && !ownsClientId(c.id, c.mqtt.clientId))
      ctx.addIssue({
        code: "custom",
        message: `"${c.id}" or "${c.id}/<suffix>" (a session belongs to its identity)`,
        path: ["mqtt", "clientId"],
      });
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

export type AgentConfig = z.infer<typeof agentConfigSchema>;
