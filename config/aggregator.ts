import { z } from "#zod";
import { brokerLimitsSchema, DEFAULT_BROKER_LIMITS } from "../aggregator/broker/limits.js";
import {
  bankSectionSchema,
  consensusSectionSchema,
  consortiumSectionSchema,
  genesisSectionSchema,
} from "../aggregator/service/config.js";
import { DEFAULT_AGGREGATOR_HTTP_PORT, httpSectionSchema } from "../protocol/http/config.js";
import { ownsClientId } from "../protocol/login.js";
import { isLoopbackHost } from "../protocol/tls.js";
import { brokerUrlSchema, identitySchema, keepReadingsDays, listenerTlsSchema, tlsSchema } from "./common.js";

/**
 * A quarter of ingested readings (about 570 B each with its signed envelope and indexes: 49 MB per
 * agent-day at one reading a second). The ledger is never pruned.
 */
export const DEFAULT_AGGREGATOR_KEEP_DAYS = 90;
/** a summary of last week still finds its readings */
const MIN_KEEP_DAYS = 8;
const DAY_MS = 86_400_000;

/** The aggregator's configuration, composed of the sections each part of the aggregator owns. */

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
            /** what one client may cost the broker (aggregator/broker/limits.ts, docs/SECURITY.md) */
            limits: brokerLimitsSchema.default(DEFAULT_BROKER_LIMITS),
            /** MQTT over TLS (gridlet ca tls-server); without it the broker listens on loopback only */
            tls: listenerTlsSchema.optional(),
          })
          .strict()
          .refine((e) => e.tls !== undefined || isLoopbackHost(e.host), {
            message:
              "plain MQTT on a non-loopback address: give broker.embedded.tls {cert, key} (gridlet ca tls-server) or listen on 127.0.0.1",
            path: ["host"],
          })
          .optional(),
        url: brokerUrlSchema.optional(),
        clientId: z.string().min(1).max(128).optional(),
        /** TLS of this aggregator's clients: to the external broker, and to its peers' brokers (ca) */
        tls: tlsSchema.optional(),
        /** broker user/password of the aggregator itself on an external broker (Mosquitto password file) */
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .strict()
      .refine((b) => (b.embedded === undefined) !== (b.url === undefined), "exactly one of embedded or url"),
    store: z
      .object({
        path: z.string().min(1),
        /** ingested readings (and their exactly-once records) older than this are deleted; 0: never */
        keepReadingsDays: keepReadingsDays(DEFAULT_AGGREGATOR_KEEP_DAYS),
      })
      .strict(),
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
        /**
         * threads that check signatures beside the event loop; absent: two on a board with more than
         * one core (aggregator/ingest/verify-pool.ts); 0 checks them on the event loop
         */
        verifyThreads: z.number().int().min(0).max(16).optional(),
      })
      .strict()
      .default({ readingMaxAgeMs: 30 * 86_400_000, maxFutureMs: 60_000, receiptDelayMs: 20 }),
    /** the replicated ledger (docs/CONSORTIUM.md): both CA-signed files, or neither (ingest only) */
    consortium: consortiumSectionSchema.optional(),
    genesis: genesisSectionSchema.optional(),
    bank: bankSectionSchema,
    consensus: consensusSectionSchema.optional(),
    /** dashboard, /metrics, /api/status, /healthz (docs/AGGREGATOR.md, "HTTP"); absent: no HTTP server */
    http: httpSectionSchema(DEFAULT_AGGREGATOR_HTTP_PORT).optional(),
  })
  .strict()
  // A pruned reading's exactly-once record is gone: a copy sent again must be refused as STALE instead;
  // and a meter summary, accepted up to 7 days old (LEDGER_MAX_AGE_MS in aggregator/service/
  // handlers.ts), is checked against the readings of its interval, which must still be there.
  .refine(
    (c) =>
      c.store.keepReadingsDays === 0 ||
      (c.store.keepReadingsDays >= MIN_KEEP_DAYS &&
        c.store.keepReadingsDays * DAY_MS >= c.ingest.readingMaxAgeMs + c.ingest.maxFutureMs),
    {
      message: `0 (keep for ever), or at least ${MIN_KEEP_DAYS} days and at least ingest.readingMaxAgeMs + ingest.maxFutureMs (a pruned reading sent again must be too old to be accepted)`,
      path: ["store", "keepReadingsDays"],
    },
  )
  .refine((c) => c.broker.clientId === undefined || ownsClientId(c.id, c.broker.clientId), {
    message: "the aggregator's id or <id>/<suffix> (a session belongs to its identity)",
    path: ["broker", "clientId"],
  })
  .refine((c) => (c.consortium === undefined) === (c.genesis === undefined), {
    message: "consortium and genesis go together",
    path: ["genesis"],
  })
  // peers subscribe to this aggregator's consensus traffic on its broker, logging in with tokens
  .refine((c) => c.consortium === undefined || c.broker.embedded !== undefined, {
    message: "a consortium member runs the embedded broker (peers log in to it with their tokens)",
    path: ["broker", "embedded"],
  });

export type AggregatorConfig = z.infer<typeof aggregatorConfigSchema>;
