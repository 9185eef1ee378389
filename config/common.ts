import { z } from "#zod";
import { plainRemoteHost } from "../protocol/tls.js";

/**
 * Configuration sections both programs share: the identity files, TLS to a broker and the MQTT link.
 * Field docs live in the commented examples (config/agent.example.yaml, config/aggregator.example.yaml).
 */

export const identitySchema = z
  .object({
    key: z.string().min(1).describe("path of the identity's key file (mode 0600)"),
    cert: z.string().min(1).describe("path of the identity's certificate"),
    ca: z.string().min(1).describe("path of the CA certificate"),
    revocations: z.string().min(1).optional().describe("path of the CA's signed revocation list"),
  })
  .strict();

/** TLS to the broker: mqtts:// URLs; with Mosquitto the client certificate's CN is the identity id. */
export const tlsSchema = z
  .object({
    ca: z.string().min(1).optional().describe("PEM CA bundle that signed the broker's certificate"),
    cert: z.string().min(1).optional().describe("PEM client certificate (CN = identity id)"),
    key: z.string().min(1).optional().describe("PEM client key"),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), "cert and key together");

/**
 * A broker URL. Plain mqtt://, tcp:// and ws:// are for loopback only: anything that leaves the machine
 * uses mqtts:// or wss:// (the transport is untrusted, docs/SECURITY.md).
 */
export const brokerUrlSchema = z
  .string()
  .regex(/^(mqtts?|wss?|tcp):\/\//, "an mqtt://, mqtts://, ws:// or wss:// URL")
  .refine((url) => plainRemoteHost(url) === undefined, {
    message:
      "plain MQTT to another machine: use mqtts:// (with tls.ca, the consortium's TLS CA); mqtt:// is for 127.0.0.1 only",
  });

/** A broker's TLS listener: its server certificate and key, and optionally the CA its clients' come from. */
export const listenerTlsSchema = z
  .object({
    cert: z.string().min(1).describe("PEM server certificate (gridlet ca tls-server --name ID --host ...)"),
    key: z.string().min(1).describe("PEM server key"),
    clientCa: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM CA: when given, every client presents a certificate it signed, CN = the identity it logs in as",
      ),
  })
  .strict();

export const mqttSchema = z
  .object({
    url: brokerUrlSchema,
    /** fixed client id of the persistent session: <id> (the default) or <id>/<suffix> */
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

export type TlsConfig = z.infer<typeof tlsSchema>;

/** Days of readings kept in a store before they are pruned; 0 keeps them for ever. */
export function keepReadingsDays(defaultDays: number) {
  return z.number().int().min(0).max(36_500).default(defaultDays);
}
