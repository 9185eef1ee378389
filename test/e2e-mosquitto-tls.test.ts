import assert from "node:assert/strict";
import { chmodSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import mqtt from "#mqtt";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { TestTls } from "../bench/harness/tls.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, reverifyAll } from "../bench/harness/verify-db.js";
import { type Mosquitto, startMosquitto } from "./helpers/mosquitto.js";
import { makeTlsPki } from "./helpers/tls.js";

/** Connects with a client certificate; resolves "connected" or the reason the connection failed. */
async function tryConnect(url: string, files: { ca: string; cert?: string; key?: string }): Promise<string> {
  const c = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    clientId: "probe",
    ca: readFileSync(files.ca),
    ...(files.cert === undefined ? {} : { cert: readFileSync(files.cert), key: readFileSync(files.key!) }),
  });
  const r = await new Promise<string>((resolve) => {
    c.once("connect", () => resolve("connected"));
    c.once("error", (e: Error & { code?: unknown }) => resolve(String(e.code ?? e.message)));
    c.once("close", () => resolve("closed"));
  });
  await c.endAsync(true);
  return r;
}

describe("Mosquitto as documented: TLS client certificates from `gridlet ca`, identity as username, the shipped ACL", {
  timeout: 90_000,
}, () => {
  const tmp = tempDir();
  let pki: TestPki;
  let x509: Awaited<ReturnType<typeof makeTlsPki>>;
  let broker: Mosquitto;
  let url: string;

  before(async () => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    x509 = await makeTlsPki(tmp.dir, ["agent-1", "agg-1"]);
    // Mosquitto started as root drops to its own user, which must still reach the broker's files.
    chmodSync(tmp.dir, 0o755);
    for (const d of [join(tmp.dir, "x509"), join(tmp.dir, "x509", "tls")]) chmodSync(d, 0o755);
    for (const p of [x509.ca, x509.server.cert, x509.server.key]) chmodSync(p, 0o644);
    const acl = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config", "mosquitto.acl.example");
    const port = await freePort();
    // startMosquitto writes a plain listener; a TLS one is added through a second listener line.
    broker = await startMosquitto(
      tmp.dir,
      await freePort(),
      [
        `listener ${port} 127.0.0.1`,
        `cafile ${x509.ca}`,
        `certfile ${x509.server.cert}`,
        `keyfile ${x509.server.key}`,
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        `acl_file ${acl}`,
        "",
      ].join("\n"),
    );
    url = `mqtts://127.0.0.1:${port}`;
  });
  after(async () => {
    await broker?.stop();
    tmp.cleanup();
  });

  it("readings arrive over mqtts with the agent's client certificate", async () => {
    const aggConfig = writeAggregatorConfig(tmp.dir, pki, { url }, { clientTls: x509.clients["agg-1"] });
    const agentConfig = writeAgentConfig(tmp.dir, pki, 0, {
      url,
      intervalMs: 200,
      meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: 6 }],
      tls: x509.clients["agent-1"],
    });
    const agg = spawnGridlet(["aggregator", "--config", aggConfig]);
    const agent = spawnGridlet(["agent", "--config", agentConfig]);
    try {
      await agg.waitForOutput(/aggregator started/);
      const rows = await waitFor("6 readings over TLS", () => {
        const r = aggregatorReadings(join(tmp.dir, "agg-1.sqlite"));
        return r.length === 6 ? r : undefined;
      });
      assert.equal(reverifyAll(rows, pki), 6);
    } finally {
      await agent.stop();
      await agg.stop();
    }
  });

  it("refuses a client certificate from another CA, and a client without one", async () => {
    const foreign = await new TestTls(join(tmp.dir, "foreign")).init();
    const impostor = await foreign.client("agent-1");
    const refused = await tryConnect(url, { ca: x509.ca, cert: impostor.cert, key: impostor.key });
    assert.equal(refused, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "a certificate another CA signed");
    const without = await tryConnect(url, { ca: x509.ca });
    assert.equal(without, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "no certificate");
    assert.equal(await tryConnect(url, x509.clients["agent-1"]), "connected", "the CA's own certificate");
    // and the client side: a broker whose server certificate the client's CA did not sign
    assert.match(
      await tryConnect(url, { ...x509.clients["agent-1"], ca: foreign.caPath }),
      /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
    );
  });
});
