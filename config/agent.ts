import { z } from "zod";
import { meterDeviceSchema } from "../agent/meters/config.js";
import { loadProfiles } from "../agent/meters/profiles/load.js";
import { DEFAULT_TRADING_CONFIG, tradingConfigSchema } from "../agent/participant/config.js";
import { DEFAULT_AGENT_HTTP_PORT, httpSectionSchema } from "../protocol/http/config.js";
import { ownsClientId } from "../protocol/login.js";
import { brokerUrlSchema, identitySchema, mqttSchema } from "./common.js";

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
