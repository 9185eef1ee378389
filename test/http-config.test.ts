/**
 * The HTTP endpoint off loopback needs its read-only token: an agent or aggregator configured to listen
 * on 0.0.0.0 without one refuses to start with exit code 2, naming the field; with one it starts and
 * answers only requests that carry it.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { parse, stringify } from "#yaml";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";

function withHttp(path: string, http: Record<string, unknown>): string {
  const doc = parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  doc.http = http;
  writeFileSync(path, stringify(doc));
  return path;
}

describe("http off loopback", { timeout: 180_000 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);

  it("without a token: exit 2, naming http.token, for the agent and the aggregator", async () => {
    const agent = withHttp(writeAgentConfig(tmp.dir, pki, 0, { url: "mqtt://127.0.0.1:1" }), {
      host: "0.0.0.0",
    });
    const agg = withHttp(writeAggregatorConfig(tmp.dir, pki, { embeddedPort: 0 }), { host: "::" });
    for (const [role, config] of [
      ["agent", agent],
      ["aggregator", agg],
    ]) {
      const r = await runGridlet([role, "--config", config]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /http\.token: got nothing, expected a read-only bearer token/);
      assert.match(r.stderr, /is not a loopback address/);
    }
  });

  it("with a token: serves only requests that carry it", async () => {
    const port = await freePort();
    const token = "0123456789abcdef-token";
    const config = withHttp(writeAggregatorConfig(tmp.dir, pki, { embeddedPort: await freePort() }), {
      host: "0.0.0.0",
      port,
      token,
    });
    const agg = spawnGridlet(["aggregator", "--config", config]);
    try {
      await agg.waitForOutput(/aggregator started/, 30_000);
      const url = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${url}/healthz`)).status, 401);
      const ok = await waitFor("healthy", async () => {
        const r = await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${token}` } });
        return r.status === 200 ? r : undefined;
      });
      assert.match(((await ok.json()) as { reason: string }).reason, /ingest only/);
      const page = await fetch(`${url}/?access_token=${token}`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Gridlet aggregator<\/title>/);
    } finally {
      await agg.stop();
    }
  });
});
