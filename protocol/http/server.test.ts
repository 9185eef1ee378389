import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "#prom-client";
import { silentLogger } from "../log.js";
import { httpSectionSchema } from "./config.js";
import { isLoopbackHost } from "./loopback.js";
import { ScrapedMetrics } from "./metrics.js";
import { observabilityRoutes } from "./routes.js";
import { HttpError, startHttpServer } from "./server.js";
import { SseHub } from "./sse.js";

const TOKEN = "read-only-token-0123456789";

describe("loopback addresses", () => {
  it("only 127.0.0.0/8, ::1, their mapped form and localhost count", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of [
      "0.0.0.0",
      "::",
      "192.168.1.10",
      "10.0.0.1",
      "::ffff:10.0.0.1",
      "gateway.local",
      "128.0.0.1",
    ])
      assert.equal(isLoopbackHost(h), false, h);
  });
});

describe("http configuration section", () => {
  const schema = httpSectionSchema(9470);
  it("defaults to loopback on the given port", () => {
    assert.deepEqual(schema.parse({}), { host: "127.0.0.1", port: 9470 });
  });
  it("refuses a non-loopback host without a token, naming the field", () => {
    const r = schema.safeParse({ host: "0.0.0.0" });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0].path, ["token"]);
    assert.match(r.error?.issues[0].message ?? "", /0\.0\.0\.0 is not a loopback address/);
    assert.equal(schema.safeParse({ host: "0.0.0.0", token: TOKEN }).success, true);
    assert.equal(schema.safeParse({ host: "0.0.0.0", token: "short" }).success, false);
  });
});

describe("the HTTP server", () => {
  it("refuses to listen off loopback without a token", async () => {
    await assert.rejects(
      startHttpServer({ host: "0.0.0.0", port: 0, routes: {}, log: silentLogger }),
      (e: unknown) => e instanceof HttpError && e.code === "HTTP_TOKEN_REQUIRED",
    );
  });

  it("serves GET only, and with a token only to requests that carry it", async () => {
    const srv = await startHttpServer({
      host: "127.0.0.1",
      port: 0,
      token: TOKEN,
      log: silentLogger,
      routes: observabilityRoutes({
        registry: new Registry(),
        status: () => ({ hello: "world" }),
        health: () => ({ ok: false, reason: "meter silent" }),
      }),
    });
    try {
      const url = `${srv.url}/api/status`;
      const none = await fetch(url);
      assert.equal(none.status, 401);
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.equal(
        (await fetch(url, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status,
        401,
      );
      const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { hello: "world" });
      assert.equal((await fetch(`${url}?access_token=${TOKEN}`)).status, 200);
      const post = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      const missing = await fetch(`${srv.url}/nope?access_token=${TOKEN}`);
      assert.equal(missing.status, 404);
      const health = await fetch(`${srv.url}/healthz?access_token=${TOKEN}`);
      assert.equal(health.status, 503);
      assert.deepEqual(await health.json(), { status: "failing", reason: "meter silent" });
    } finally {
      await srv.close();
    }
  });

  it("names the address when the port is taken", async () => {
    const a = await startHttpServer({ host: "127.0.0.1", port: 0, routes: {}, log: silentLogger });
    try {
      await assert.rejects(
        startHttpServer({ host: "127.0.0.1", port: a.port, routes: {}, log: silentLogger }),
        (e: unknown) =>
          e instanceof HttpError &&
          e.code === "HTTP_LISTEN_FAILED" &&
          /EADDRINUSE/.test(e.message) &&
          e.message.includes(`127.0.0.1:${a.port}`),
      );
    } finally {
      await a.close();
    }
  });
});

describe("scraped metrics", () => {
  it("counters and gauges read the process's own values at each scrape, in its own registry", async () => {
    let n = 3;
    const m = new ScrapedMetrics();
    m.counter("t_things_total", "things", ["kind"], () => [[{ kind: "a" }, n]]);
    m.gauge("t_level", "level", [], () => (n > 3 ? n * 2 : undefined));
    let text = await m.registry.metrics();
    assert.match(text, /^t_things_total\{kind="a"\} 3$/m);
    assert.doesNotMatch(text, /^t_level /m);
    n = 5;
    text = await m.registry.metrics();
    assert.match(text, /^t_things_total\{kind="a"\} 5$/m);
    assert.match(text, /^t_level 10$/m);
    const other = new ScrapedMetrics();
    other.counter("t_things_total", "things", [], () => 1);
    assert.match(await other.registry.metrics(), /^t_things_total 1$/m);
  });
});

describe("server-sent events", () => {
  it("a client gets the snapshot at once, then each event as one data line", async () => {
    let count = 0;
    const hub = new SseHub(() => ({ event: "status", data: { n: ++count } }));
    const srv = await startHttpServer({
      host: "127.0.0.1",
      port: 0,
      routes: { "/e": hub.route },
      log: silentLogger,
    });
    try {
      const res = await fetch(`${srv.url}/e`);
      assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const reader = res.body!.getReader();
      let text = "";
      const until = async (re: RegExp) => {
        while (!re.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${re}: ${text}`);
          text += Buffer.from(value).toString();
        }
      };
      await until(/event: status\ndata: \{"n":1\}\n\n/);
      hub.send("status", { line: "a\nb" });
      await until(/event: status\ndata: \{"line":"a\\nb"\}\n\n/);
      await reader.cancel();
    } finally {
      hub.close();
      await srv.close();
    }
  });
});
