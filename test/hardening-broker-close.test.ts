import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import mqtt, { type MqttClient } from "#mqtt";
import { startEmbeddedBroker } from "../aggregator/broker/embedded.js";
import { LoginVerifier } from "../aggregator/broker/login.js";
import { tempDir } from "../bench/harness/tmp.js";
import { CaDirectory } from "../protocol/ca-dir.js";
import { TrustStore } from "../protocol/identity.js";
import { silentLogger } from "../protocol/log.js";
import { loginToken } from "../protocol/login.js";

const tmp = tempDir();
after(() => tmp.cleanup());

/**
 * What made stopping 16 aggregators crash with "Maximum call stack size exceeded": peers subscribed to
 * this broker's consensus traffic stop reading (they are stopping too), tens of thousands of messages
 * queue up in Aedes' emitter, then the peers go and the broker closes. The queue must drain without
 * recursion and close must finish.
 */
test("a broker with a long backlog behind frozen subscribers closes without overflowing its stack", {
  timeout: 120_000,
}, async () => {
  const ca = new CaDirectory(join(tmp.dir, "ca"));
  ca.init("test-ca");
  const peers = Array.from({ length: 15 }, (_, i) =>
    ca.issue({ role: "aggregator", id: `eag${i + 1}` }, tmp.dir),
  );
  const broker = await startEmbeddedBroker({
    host: "127.0.0.1",
    port: 0,
    login: new LoginVerifier(new TrustStore(ca.caCertificate(), { now: Date.now }), {
      audience: "eag0",
      now: Date.now,
    }),
    log: silentLogger,
  });
  const clients: MqttClient[] = [];
  for (const p of peers) {
    const clientId = `${p.cert.id}/peer`;
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      clientId,
      username: p.cert.id,
      password: loginToken(p.key, p.cert, { clientId, audience: "eag0", seq: 1, now: Date.now() }),
      reconnectPeriod: 0,
    });
    await c.subscribeAsync("gridlet/v1/consensus/eag0/all", { qos: 0 });
    clients.push(c);
  }
  for (const c of clients) c.stream.pause();
  const payload = Buffer.alloc(2000, 1);
  // Without the broker's drain subscriber (embedded.ts), 10 000 messages already overflow the stack here
  // (checked by taking it out); 20 000 keep a margin at a third of the CPU time of the 60 000 used before.
  for (let i = 0; i < 20_000; i++) broker.publish("gridlet/v1/consensus/eag0/all", payload);
  await new Promise((r) => setTimeout(r, 500));
  for (const c of clients) c.end(true);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await broker.close();
  assert.ok(Date.now() - t0 < 10_000, "close finished");
});
