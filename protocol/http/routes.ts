import type { Registry } from "#prom-client";
import { type RouteHandler, sendJson, sendText } from "./server.js";

/** Whether the process does its job right now, and why not when it does not. */
export interface Health {
  ok: boolean;
  reason: string;
}

/**
 * The three endpoints every Gridlet process serves: Prometheus text from its own registry (never the
 * global one, so that two processes in one test runner do not mix), its status document, and a health
 * check that answers 200 only while the work flows (503 with the reason otherwise).
 */
export function observabilityRoutes(o: {
  registry: Registry;
  status: () => unknown;
  health: () => Health;
}): Record<string, RouteHandler> {
  return {
    "/metrics": async (_req, res) => {
      sendText(res, 200, await o.registry.metrics(), o.registry.contentType);
    },
    "/api/status": (_req, res) => sendJson(res, 200, o.status()),
    "/healthz": (_req, res) => {
      const h = o.health();
      sendJson(res, h.ok ? 200 : 503, { status: h.ok ? "ok" : "failing", reason: h.reason });
    },
  };
}
