import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, errorFamily, type FamilyError } from "../errors.js";
import type { Logger } from "../log.js";
import { isLoopbackHost } from "./loopback.js";

/**
 * The read-only HTTP endpoint of a Gridlet process (agent or aggregator): node:http, GET and HEAD only,
 * one handler per path. Bound to loopback it may run without a token; bound anywhere else it refuses to
 * start without one, and then every request must carry it, as `Authorization: Bearer TOKEN` or, for a
 * browser page and its EventSource that cannot set headers, as `?access_token=TOKEN` (RFC 6750 §2.1, §2.3).
 */

export type HttpErrorCode = "HTTP_TOKEN_REQUIRED" | "HTTP_LISTEN_FAILED" | "HTTP_FILES_MISSING";
export const { Error: HttpError } = errorFamily<HttpErrorCode>("HttpError");
export type HttpError = FamilyError<HttpErrorCode>;

export interface HttpRequest {
  path: string;
  query: URLSearchParams;
  raw: IncomingMessage;
}

/** A route answers a request; it may keep the response open (server-sent events). */
export type RouteHandler = (req: HttpRequest, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  host: string;
  port: number;
  /** the read-only bearer token; required unless `host` is a loopback address */
  token?: string;
  routes: Record<string, RouteHandler>;
  log: Logger;
}

export interface RunningHttpServer {
  /** the port actually bound (the configured one, or the kernel's choice for 0) */
  port: number;
  /** http://host:port with IPv6 hosts bracketed */
  url: string;
  close(): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Compares hashes, so the time taken says nothing about how much of the token was right. */
function tokenMatches(given: string | undefined, expected: Buffer): boolean {
  return given !== undefined && timingSafeEqual(digest(given), expected);
}

function bearer(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m?.[1];
  }
  return query.get("access_token") ?? undefined;
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

export function urlOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export async function startHttpServer(o: HttpServerOptions): Promise<RunningHttpServer> {
  if (o.token === undefined && !isLoopbackHost(o.host)) {
    throw new HttpError(
      "HTTP_TOKEN_REQUIRED",
      `http.host ${o.host} is not a loopback address: set http.token (a read-only bearer token)`,
    );
  }
  const expected = o.token === undefined ? undefined : digest(o.token);
  const log = o.log;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://gridlet.invalid");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      sendJson(res, 405, { error: `${req.method} not allowed: this endpoint is read-only` });
      return;
    }
    if (expected !== undefined && !tokenMatches(bearer(req, url.searchParams), expected)) {
      // RFC 6750 §3: the challenge names the scheme; no detail about which part was wrong.
      res.setHeader("www-authenticate", 'Bearer realm="gridlet"');
      sendJson(res, 401, { error: "a valid bearer token is required" });
      return;
    }
    const route = o.routes[url.pathname];
    if (route === undefined) {
      sendJson(res, 404, { error: `no such path: ${url.pathname}`, paths: Object.keys(o.routes).sort() });
      return;
    }
    await route({ path: url.pathname, query: url.searchParams, raw: req }, res);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // The path only: the query may hold the access token.
      log.warn("http request failed", { path: (req.url ?? "/").split("?")[0], error: describeError(e) });
      if (!res.headersSent) sendJson(res, 500, { error: describeError(e) });
      else res.destroy();
    });
  });
  // A scrape that stalls must not hold a socket for ever; SSE routes lift the timeout on their socket.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new HttpError(
          "HTTP_LISTEN_FAILED",
          `cannot listen on ${urlOf(o.host, o.port)}: ${e.code ?? e.message}`,
        ),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = urlOf(o.host, port);
  log.info("http listening", { url, token: expected !== undefined, paths: Object.keys(o.routes).sort() });
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open event streams would keep close() waiting.
        server.closeAllConnections();
      }),
  };
}
