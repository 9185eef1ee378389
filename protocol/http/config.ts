import { z } from "#zod";
import { isLoopbackHost } from "./loopback.js";

/** Default ports: the agent and the aggregator may share a machine (a gateway that also reads a meter). */
export const DEFAULT_AGGREGATOR_HTTP_PORT = 9470;
export const DEFAULT_AGENT_HTTP_PORT = 9471;

/**
 * The `http` section of an agent or aggregator configuration: where /metrics, /api/status and /healthz
 * (and the aggregator's dashboard) listen. Absent, no HTTP server runs.
 */
export function httpSectionSchema(defaultPort: number) {
  return z
    .object({
      /** loopback by default; any other address needs `token` */
      host: z.string().min(1).default("127.0.0.1"),
      port: z.number().int().min(0).max(65535).default(defaultPort),
      /** read-only bearer token: `Authorization: Bearer TOKEN` or `?access_token=TOKEN` */
      token: z.string().min(16, "a token of at least 16 characters").optional(),
    })
    .strict()
    .superRefine((h, ctx) => {
      if (h.token === undefined && !isLoopbackHost(h.host))
        ctx.addIssue({
          code: "custom",
          path: ["token"],
          message: `a read-only bearer token (at least 16 characters), since host ${h.host} is not a loopback address`,
        });
    });
}

export type HttpSection = z.infer<ReturnType<typeof httpSectionSchema>>;
