import type { ServerResponse } from "node:http";
import type { RouteHandler } from "./server.js";

/**
 * Server-sent events (WHATWG HTML, "Server-sent events"): each client keeps one response open and gets
 * `event: NAME` / `data: JSON` blocks. A comment line every `keepAliveMs` keeps proxies from closing an
 * idle stream. `snapshot` is what a client gets at once when it connects.
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly snapshot: () => { event: string; data: unknown } | undefined,
    keepAliveMs = 15_000,
  ) {
    this.timer = setInterval(() => {
      for (const c of this.clients) c.write(": keep-alive\n\n");
    }, keepAliveMs);
    this.timer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  readonly route: RouteHandler = (req, res) => {
    req.raw.socket.setTimeout(0);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    // A client that reconnects waits this long first (the field is in ms).
    res.write("retry: 2000\n\n");
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
    const first = this.snapshot();
    if (first !== undefined) res.write(frame(first.event, first.data));
  };

  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const f = frame(event, data);
    for (const c of this.clients) c.write(f);
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

function frame(event: string, data: unknown): string {
  // JSON.stringify never emits a raw newline, so one data line holds the whole value.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
