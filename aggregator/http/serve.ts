import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { memo } from "../../protocol/http/metrics.js";
import { observabilityRoutes } from "../../protocol/http/routes.js";
import { HttpError, type RunningHttpServer, sendText, startHttpServer } from "../../protocol/http/server.js";
import { SseHub } from "../../protocol/http/sse.js";
import type { Logger } from "../../protocol/log.js";
import { LedgerActivity } from "./activity.js";
import { aggregatorHealth } from "./health.js";
import { aggregatorMetrics } from "./metrics.js";
import { type AggregatorSources, takeSnapshot } from "./snapshot.js";

/** The dashboard's static files, read from the source tree beside dist/ (no build step). */
export const DASHBOARD_DIR = fileURLToPath(new URL("../../../aggregator/http/dashboard/", import.meta.url));

/** How often the dashboard's event stream gets a fresh status. */
export const EVENTS_EVERY_MS = 1000;

function readDashboard(): { html: string; js: string } {
  try {
    return {
      html: readFileSync(`${DASHBOARD_DIR}index.html`, "utf8"),
      js: readFileSync(`${DASHBOARD_DIR}dashboard.js`, "utf8"),
    };
  } catch (e) {
    throw new HttpError(
      "HTTP_FILES_MISSING",
      `the dashboard's files are missing from ${DASHBOARD_DIR}: ${(e as Error).message}`,
    );
  }
}

/** The status document: the snapshot with the health verdict (the dashboard draws exactly this). */
export function statusDocument(s: ReturnType<typeof takeSnapshot>) {
  return { role: "aggregator", uptimeMs: s.at - s.startedAt, health: aggregatorHealth(s), ...s };
}

/**
 * Starts the aggregator's read-only HTTP endpoint: the dashboard at `/`, its live feed at `/api/events`
 * (server-sent events), `/metrics`, `/api/status` and `/healthz`. Call before the ledger starts, so that
 * the blocks it replays from its store fill the dashboard's history.
 */
export async function startAggregatorHttp(
  http: { host: string; port: number; token?: string },
  sources: AggregatorSources,
  log: Logger,
  now: () => number = Date.now,
): Promise<RunningHttpServer> {
  const dashboard = readDashboard();
  const startedAt = now();
  let commitLatency: { observe(v: number): void } | undefined;
  const activity = new LedgerActivity((s) => commitLatency?.observe(s));
  sources.ledger?.node.watch((b) => activity.add(b));
  const snap = memo(() => takeSnapshot(sources, activity, startedAt, now()));
  const m = aggregatorMetrics(snap);
  commitLatency = m.commitLatency;
  const status = () => statusDocument(snap());
  const events = new SseHub(() => ({ event: "status", data: status() }));
  const timer = setInterval(() => {
    if (events.size > 0) events.send("status", status());
  }, EVENTS_EVERY_MS);
  timer.unref();
  try {
    const server = await startHttpServer({
      ...http,
      log,
      routes: {
        ...observabilityRoutes({
          registry: m.metrics.registry,
          status,
          health: () => aggregatorHealth(snap()),
        }),
        "/": (_req, res) => sendText(res, 200, dashboard.html, "text/html; charset=utf-8"),
        "/dashboard.js": (_req, res) => sendText(res, 200, dashboard.js, "text/javascript; charset=utf-8"),
        "/api/events": events.route,
      },
    });
    return {
      ...server,
      close: async () => {
        clearInterval(timer);
        events.close();
        await server.close();
      },
    };
  } catch (e) {
    clearInterval(timer);
    events.close();
    throw e;
  }
}
