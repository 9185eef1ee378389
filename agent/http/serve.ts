import { memo } from "../../protocol/http/metrics.js";
import { observabilityRoutes } from "../../protocol/http/routes.js";
import { type RunningHttpServer, startHttpServer } from "../../protocol/http/server.js";
import type { Logger } from "../../protocol/log.js";
import type { AgentSnapshot } from "../runtime/snapshot.js";
import { agentHealth } from "./health.js";
import { agentMetrics } from "./metrics.js";
import { agentStatus } from "./status.js";

/** Starts the agent's read-only HTTP endpoint: /metrics, /api/status, /healthz. */
export function startAgentHttp(
  http: { host: string; port: number; token?: string },
  source: { snapshot(): AgentSnapshot },
  log: Logger,
): Promise<RunningHttpServer> {
  const snap = memo(() => source.snapshot());
  const metrics = agentMetrics(snap);
  return startHttpServer({
    ...http,
    log,
    routes: observabilityRoutes({
      registry: metrics.registry,
      status: () => agentStatus(snap()),
      health: () => agentHealth(snap()),
    }),
  });
}
