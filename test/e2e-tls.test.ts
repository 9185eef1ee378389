import assert from "node:assert/strict";
import { appendFileSync, readFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import mqtt from "#mqtt";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { TestTls, type TlsFilesFor } from "../bench/harness/tls.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, reverifyAll } from "../bench/harness/verify-db.js";
import { loginToken } from "../protocol/login.js";
import { gridlet } from "./helpers/cli.js";

let loginSeq = Date.now() * 1000;

/** Logs in as `who` over mqtts; resolves "connected" or why the connection failed. */
async function tryLogin(
  url: string,
  pki: TestPki,
  who: string,
  tls: { ca: string; cert?: string; key?: string },
): Promise<string> {
  const id = pki.agents.find((a) => a.id === who) ?? pki.aggregator;
  const c = mqtt.connect(url, {
    clientId: who,
    username: who,
    password: loginToken(id.key, id.cert, {
      clientId: who,
      audience: "agg-1",
      seq: loginSeq++,
      now: Date.now(),
    }),
    reconnectPeriod: 0,
    connectTimeout: 5000,
    protocolVersion: 4,
    ca: readFileSync(tls.ca),
    ...(tls.cert === undefined ? {} : { cert: readFileSync(tls.cert), key: readFileSync(tls.key!) }),
  });
  const r = await new Promise<string>((resolve) => {
    c.once("connect", () => resolve("connected"));
    c.once("error", (e: Error & { code?: unknown }) => resolve(String(e.code ?? e.message)));
    c.once("close", () => resolve("closed"));
  });
  await c.endAsync(true);
  return r;
}

/** Speaks plain MQTT to a TLS port: resolves once the broker has closed the connection. */
function plainConnect(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, "127.0.0.1", () =>
      s.write(Buffer.from([0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 30, 0, 0])),
    );
    s.on("error", () => undefined);
    s.on("close", () => resolve());
  });
}

describe("MQTT over TLS through the embedded broker, with real processes", { timeout: 120_000 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  let tls: TestTls;
  let server: TlsFilesFor;
  let port: number;
  let agg: Proc;
  const url = () => `mqtts://127.0.0.1:${port}`;

  before(async () => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1", "agent-2"]);
    tls = await new TestTls(pki.ca.dir).init();
    server = await tls.server("agg-1");
    port = await freePort();
    const config = writeAggregatorConfig(tmp.dir, pki, {
      embeddedPort: port,
      tls: { cert: server.cert, key: server.key },
    });
    agg = spawnGridlet(["aggregator", "--config", config]);
    await agg.waitForOutput(/aggregator started/);
  });
  after(async () => {
    await agg?.stop();
    tmp.cleanup();
  });

  it("an agent process sends its readings over mqtts, checking the broker against the TLS CA", async () => {
    assert.match(agg.output(), /embedded broker listening.*tls=true/);
    assert.match(agg.output(), new RegExp(`aggregator started.*mqtts://127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(agg.output(), /without TLS/);
    const agentConfig = writeAgentConfig(tmp.dir, pki, 0, {
      url: url(),
      intervalMs: 200,
      meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: 6 }],
      tls: { ca: tls.caPath },
    });
    const agent = spawnGridlet(["agent", "--config", agentConfig]);
    try {
      const rows = await waitFor("6 readings over TLS", () => {
        const r = aggregatorReadings(join(tmp.dir, "agg-1.sqlite"));
        return r.length === 6 ? r : undefined;
      });
      assert.equal(reverifyAll(rows, pki), 6);
      assert.match(agent.output(), /mqtt connected.*mqtts:/);
    } finally {
      await agent.stop();
    }
  });

  it("an agent refuses a broker whose certificate another CA signed, and sends nothing", async () => {
    const foreign = await new TestTls(join(tmp.dir, "foreign-ca")).init();
    const agentConfig = writeAgentConfig(tmp.dir, pki, 1, {
      url: url(),
      intervalMs: 200,
      meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: 3 }],
      tls: { ca: foreign.caPath },
    });
    const agent = spawnGridlet(["agent", "--config", agentConfig]);
    try {
      await agent.waitForOutput(
        /mqtt error.*(self-signed certificate in certificate chain|unable to verify)/,
      );
      assert.doesNotMatch(agent.output(), /mqtt connected/);
      // the broker saw the client hang up in the handshake: counted and logged once, before any MQTT
      await agg.waitForOutput(/TLS connection refused code=TLS_HANDSHAKE /);
    } finally {
      await agent.stop();
    }
    assert.equal(
      aggregatorReadings(join(tmp.dir, "agg-1.sqlite")).filter((r) => r.sender === "agent-2").length,
      0,
    );
  });

  it("the packet limits apply to the decrypted stream: a huge CONNECT over TLS is cut short", async () => {
    const sent = await new Promise<number>((resolve) => {
      const c = tlsConnect({ host: "127.0.0.1", port, ca: readFileSync(tls.caPath) }, () => {
        // CONNECT declaring 250 MB [MQTT-2.2.3], then its "body" until the broker hangs up
        c.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x77]));
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const pump = () => {
          while (n < 64 * 1024 * 1024 && !c.destroyed) {
            n += chunk.length;
            if (!c.write(chunk)) return void c.once("drain", pump);
          }
        };
        pump();
      });
      let n = 0;
      c.on("error", () => undefined);
      c.on("close", () => resolve(n));
    });
    assert.ok(sent < 16 * 1024 * 1024, `the broker read ${sent} bytes before closing`);
    await agg.waitForOutput(/packet over the limit code=CONNECT_TOO_LARGE/);
  });

  it("plain MQTT on the TLS port is closed in the handshake", async () => {
    await plainConnect(port);
    await agg.waitForOutput(/TLS connection refused code=TLS_HANDSHAKE .*reason=WRONG_VERSION_NUMBER/);
  });
});

describe("client certificates at the embedded broker (broker.embedded.tls.clientCa)", {
  timeout: 180_000,
}, () => {
  const tmp = tempDir();
  let pki: TestPki;
  let tls: TestTls;
  let port: number;
  let agg: Proc;

  before(async () => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1", "agent-2"]);
    tls = await new TestTls(pki.ca.dir).init();
    const server = await tls.server("agg-1");
    port = await freePort();
    const config = writeAggregatorConfig(tmp.dir, pki, {
      embeddedPort: port,
      tls: { cert: server.cert, key: server.key, clientCa: tls.caPath },
    });
    agg = spawnGridlet(["aggregator", "--config", config]);
    await agg.waitForOutput(/aggregator started/);
  });
  after(async () => {
    await agg?.stop();
    tmp.cleanup();
  });

  it("accepts the identity's own certificate; refuses one from another CA, another identity's, and none", async () => {
    const url = `mqtts://127.0.0.1:${port}`;
    const own = await tls.client("agent-1");
    assert.equal(await tryLogin(url, pki, "agent-1", own), "connected");
    const foreign = await (await new TestTls(join(tmp.dir, "foreign-ca")).init()).client("agent-1");
    assert.match(
      await tryLogin(url, pki, "agent-1", { ...foreign, ca: tls.caPath }),
      /^(ECONNRESET|closed|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)$/,
    );
    assert.match(
      await tryLogin(url, pki, "agent-1", { ca: tls.caPath }),
      /^(ECONNRESET|closed|ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)$/,
    );
    const other = await tls.client("agent-2");
    // CONNACK 5, not authorized [MQTT-3.2.2.3]
    assert.equal(await tryLogin(url, pki, "agent-1", other), "5");
    await agg.waitForOutput(/login refused code=CERT_NOT_IDENTITY .*certificate=agent-2/);
  });
});

describe("plain MQTT beyond loopback is a configuration error (exit 2)", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("an embedded broker on 0.0.0.0 without TLS, an agent or aggregator URL mqtt:// to another machine", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const open = writeAggregatorConfig(tmp.dir, pki, { embeddedPort: await freePort(), host: "0.0.0.0" });
    const r = gridlet(["aggregator", "--config", open]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /broker\.embedded\.host: .*plain MQTT on a non-loopback address/);
    const remote = writeAggregatorConfig(tmp.dir, pki, { url: "mqtt://10.1.2.3:1883" });
    const r2 = gridlet(["aggregator", "--config", remote]);
    assert.equal(r2.status, 2, r2.stderr);
    assert.match(r2.stderr, /broker\.url: .*use mqtts:\/\//);
    const agent = writeAgentConfig(tmp.dir, pki, 0, { url: "mqtt://gateway.example.org:1883" });
    const r3 = gridlet(["agent", "--config", agent]);
    assert.equal(r3.status, 2, r3.stderr);
    assert.match(r3.stderr, /mqtt\.url: .*plain MQTT to another machine/);
    // the operator's own broker for Home Assistant too: its password would cross the LAN in clear
    const ha = writeAgentConfig(tmp.dir, pki, 0, { url: "mqtt://127.0.0.1:1883" });
    appendFileSync(ha, "homeAssistant:\n  broker:\n    url: mqtt://192.168.1.20:1883\n    username: ha\n");
    const r4 = gridlet(["agent", "--config", ha]);
    assert.equal(r4.status, 2, r4.stderr);
    assert.match(r4.stderr, /homeAssistant\.broker\.url: .*plain MQTT to another machine/);
  });

  it("a TLS key that does not belong to its certificate names both files", async () => {
    const pki = makePki(join(tmp.dir, "k"), "agg-1", []);
    const tls = await new TestTls(pki.ca.dir).init();
    const a = await tls.server("agg-1");
    const b = await tls.server("agg-2");
    const config = writeAggregatorConfig(join(tmp.dir, "k"), pki, {
      embeddedPort: await freePort(),
      host: "0.0.0.0",
      tls: { cert: a.cert, key: b.key },
    });
    const r = gridlet(["aggregator", "--config", config]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /TLS certificate .*agg-1\.server\.crt with key .*agg-2\.server\.key: .*key values mismatch/,
    );
  });
});
