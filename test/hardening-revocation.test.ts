import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import mqtt, { type MqttClient } from "#mqtt";
import { parse, stringify } from "#yaml";
import { makeProcessConsortium } from "../bench/harness/process-consortium.js";
import { type Proc, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { rejectionCounts } from "../bench/harness/verify-db.js";
import type { Certificate, KeyMaterial } from "../protocol/identity.js";
import { readKeyFile } from "../protocol/keyfile.js";
import { loginToken } from "../protocol/login.js";

const tmp = tempDir();
after(() => tmp.cleanup());

let seq = Date.now() * 1000;
/** the consortium's TLS CA: its brokers serve mqtts:// */
let tlsCa: Buffer | undefined;

async function login(
  url: string,
  audience: string,
  cert: Certificate,
  key: KeyMaterial,
  suffix: string,
  loginSeq = seq++,
) {
  const clientId = `${cert.id}/${suffix}`;
  const c = mqtt.connect(url, {
    clientId,
    username: cert.id,
    password: loginToken(key, cert, { clientId, audience, seq: loginSeq, now: Date.now() }),
    reconnectPeriod: 0,
    protocolVersion: 4,
    ...(tlsCa === undefined ? {} : { ca: tlsCa }),
  });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", (e) => {
      c.end(true);
      reject(e);
    });
  });
  return c;
}

function closed(c: MqttClient): Promise<number> {
  return new Promise((resolve) => c.once("close", () => resolve(Date.now())));
}

test("a revocation handed to one aggregator cuts the revoked agent's connections at every aggregator", {
  timeout: 240_000,
}, async (t) => {
  const k = await makeProcessConsortium(tmp.dir, {
    n: 3,
    trading: { intervalMs: 60_000, confirmWindowMs: 60_000 },
  });
  // No aggregator reads the CA's file: the list must travel on the revocation topic.
  for (const path of k.configs) {
    const doc = parse(readFileSync(path, "utf8"));
    delete doc.identity.revocations;
    writeFileSync(path, stringify(doc));
  }
  const url = (i: number) => k.urls[i];
  tlsCa = k.tlsCa === undefined ? undefined : readFileSync(k.tlsCa);
  const procs: Proc[] = k.configs.map((c) => spawnGridlet(["aggregator", "--config", c]));
  const clients: MqttClient[] = [];
  try {
    await Promise.all(procs.map((p) => p.waitForOutput(/ledger started/, 90_000)));
    const alice = k.ca.issue(
      { role: "agent", id: "alice", home: "eag0", wallets: 1 },
      join(tmp.dir, "agents"),
    );
    const bob = k.ca.issue({ role: "agent", id: "bob", home: "eag0", wallets: 1 }, join(tmp.dir, "agents"));
    const a1 = await login(url(1), "eag1", alice.cert, alice.key, "one");
    const a2 = await login(url(2), "eag2", alice.cert, alice.key, "two");
    const b2 = await login(url(2), "eag2", bob.cert, bob.key, "main");
    clients.push(a1, a2, b2);
    const cut = [closed(a1), closed(a2)];
    let bobClosed = false;
    b2.on("close", () => {
      bobClosed = true;
    });

    // The CA hands the list to eag0 only, where alice is not even connected.
    const t0 = Date.now();
    const r = await runGridlet([
      "ca",
      "revoke",
      "--dir",
      k.ca.dir,
      "--id",
      "alice",
      "--to",
      `eag0=${url(0)}`,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /published to eag0/);
    const at = await Promise.all(cut);
    t.diagnostic(`alice cut at eag1 after ${at[0] - t0} ms, at eag2 after ${at[1] - t0} ms`);
    for (const i of [1, 2])
      await waitFor(
        `eag${i} counted the cut`,
        () => rejectionCounts(join(k.dir, `eag${i}.sqlite`)).BROKER_REVOKED_CUT === 1,
      );
    for (const p of procs) await p.waitForOutput(/revocation list installed/);

    await assert.rejects(
      login(url(2), "eag2", alice.cert, alice.key, "again"),
      (e: Error & { code?: number }) => e.code === 4,
    );
    await waitFor(
      "refused as revoked",
      () => rejectionCounts(join(k.dir, "eag2.sqlite")).BROKER_REVOKED_SENDER === 1,
    );
    assert.equal(bobClosed, false, "bob is not revoked and stays connected");

    // Nobody but the CA can put a list there: a peer aggregator publishing junk on the topic is refused.
    const eag1 = {
      cert: JSON.parse(readFileSync(join(tmp.dir, "identities", "eag1.cert.json"), "utf8")),
      key: readKeyFile(join(tmp.dir, "identities", "eag1.key")),
    };
    // (above the sequence numbers eag1's own peer link uses there)
    const peer = await login(url(2), "eag2", eag1.cert, eag1.key, "junk", Date.now() * 3000);
    clients.push(peer);
    const peerClosed = closed(peer);
    peer.publish(
      "gridlet/v1/ca/revocations",
      JSON.stringify({ v: 1, issuer: "test-ca", version: 99, revoked: [] }),
      {
        qos: 1,
        retain: true,
      },
    );
    await peerClosed;
    await waitFor("junk refused", () => rejectionCounts(join(k.dir, "eag2.sqlite")).BROKER_BAD_PAYLOAD === 1);
  } finally {
    for (const c of clients) c.end(true);
    await Promise.all(procs.map((p) => p.stop()));
  }
});
