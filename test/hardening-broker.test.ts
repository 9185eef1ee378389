import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import mqtt, { type MqttClient } from "#mqtt";
import { readingBody } from "../agent/runtime/agent.js";
import { writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestIdentity, type TestPki } from "../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { rejectionCounts } from "../bench/harness/verify-db.js";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { loginToken } from "../protocol/login.js";
import { MSG_READING } from "../protocol/messages/readings.js";
import { topics } from "../protocol/topics.js";

const MiB = 1024 * 1024;

/** Resident memory of a process, from /proc (what the kernel charges it, garbage or not). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) * 1024;
}

/** A fixed header of type `type` declaring `remaining` bytes to follow [MQTT-2.2.3]. */
function fixedHeader(type: number, remaining: number): Buffer {
  const out = [type];
  let x = remaining;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return Buffer.from(out);
}

/** Declares a huge CONNECT and streams its "body" until the broker hangs up; returns the bytes it took. */
function hugeConnect(port: number, declared: number, maxSend: number): Promise<number> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, "127.0.0.1");
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const pump = () => {
      while (sent < maxSend && !s.destroyed) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once("drain", pump);
      }
    };
    s.on("connect", () => {
      s.write(fixedHeader(0x10, declared));
      pump();
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve(sent));
  });
}

let loginSeq = Date.now() * 1000;

async function login(
  url: string,
  who: TestIdentity,
  o: { clientId?: string; clean?: boolean; audience?: string; password?: string } = {},
): Promise<MqttClient> {
  const clientId = o.clientId ?? who.id;
  const password =
    o.password ??
    loginToken(who.key, who.cert, {
      clientId,
      audience: o.audience ?? "agg-1",
      seq: loginSeq++,
      now: Date.now(),
    });
  const c = mqtt.connect(url, {
    clientId,
    clean: o.clean ?? true,
    username: who.id,
    password,
    reconnectPeriod: 0,
    protocolVersion: 4,
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

/** Logs in, publishes one message, and waits for the broker to close the connection. */
async function publishUntilClosed(
  url: string,
  who: TestIdentity,
  topic: string,
  payload: Buffer,
): Promise<void> {
  const c = await login(url, who, { clientId: `${who.id}/attack` });
  const closed = new Promise<void>((r) => c.once("close", () => r()));
  c.on("error", () => undefined);
  c.publish(topic, payload, { qos: 0, retain: true });
  await closed;
  c.end(true);
}

describe("the embedded broker bounds a hostile client", { timeout: 240_000 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  let agg: Proc;
  let aggArgs: string[];
  let url: string;
  let db: string;
  before(async () => {
    pki = makePki(tmp.dir, "agg-1", ["alice", "bob", "mallory", "flood"]);
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    db = join(tmp.dir, "agg-1.sqlite");
    aggArgs = [
      "aggregator",
      "--config",
      writeAggregatorConfig(
        tmp.dir,
        pki,
        { embeddedPort: port },
        { limits: { publishPerSecond: 1000, publishBurst: 200 } },
      ),
    ];
    agg = spawnGridlet(aggArgs);
    await agg.waitForOutput(/aggregator started/);
  });
  after(async () => {
    await agg.stop();
    tmp.cleanup();
  });

  it("six 250 MB CONNECT declarations and 300 retained 1 MB publishes: memory grows < 32 MiB", async (t) => {
    const mallory = pki.agents[2];
    // The baseline is a broker that has served agents for a while: code compiled, and V8's young
    // generation grown to what a busy process uses (up to 16 MiB per semi-space, whoever allocates).
    for (let i = 0; i < 300; i++) {
      const c = await login(url, mallory, { clientId: `${mallory.id}/warm-up` });
      await c.publishAsync(topics.agentStatus(mallory.id), "online", { qos: 1, retain: true });
      await c.endAsync();
    }
    const before = rss(agg.child.pid!);
    const taken = await Promise.all(
      Array.from({ length: 6 }, () => hugeConnect(freePortOf(url), 250_000_000, 32 * MiB)),
    );
    for (const t of taken) assert.ok(t < 32 * MiB, `the broker hung up before taking the whole body (${t})`);
    for (let i = 0; i < 300; i++)
      await publishUntilClosed(url, mallory, `${topics.agentStatus(mallory.id)}x${i}`, Buffer.alloc(MiB, i));
    // under the packet limit but over the retained quota (64 messages, 256 KiB per identity)
    let c: MqttClient | undefined;
    for (let i = 0; i < 40; i++) {
      if (c === undefined || !c.connected) {
        c?.end(true);
        c = await login(url, mallory, { clientId: `${mallory.id}/retain` });
        c.on("error", () => undefined);
      }
      const client = c;
      await Promise.race([
        client.publishAsync(`gridlet/v1/agent/${mallory.id}/r${i}`, Buffer.alloc(100 * 1024, i), {
          qos: 1,
          retain: true,
        }),
        new Promise<void>((r) => client.once("close", () => r())),
      ]);
    }
    c?.end(true);
    const grown = rss(agg.child.pid!) - before;
    t.diagnostic(`broker RSS ${(before / MiB).toFixed(1)} MiB, grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.ok(grown < 32 * MiB, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`);

    await waitFor("the refusals counted", () => {
      const c = rejectionCounts(db);
      return (
        c.BROKER_CONNECT_TOO_LARGE === 6 &&
        c.BROKER_PACKET_TOO_LARGE === 300 &&
        c.BROKER_RETAINED_LIMIT === 38
      );
    });
    const out = agg.output();
    assert.equal(count(out, /packet over the limit.*code=CONNECT_TOO_LARGE/g), 1, "one line for the burst");
    assert.equal(count(out, /packet over the limit.*code=PACKET_TOO_LARGE/g), 1, "one line for the burst");
    assert.equal(count(out, /retained publish refused/g), 1, "one line for the burst");
  });

  it("a flood from one identity is slowed to its rate, with one log line per burst", async (t) => {
    const flood = pki.agents[3];
    const c = await login(url, flood);
    const n = 3000;
    const t0 = Date.now();
    for (let i = 0; i < n; i++) c.publish(topics.agentUp(flood.id), `junk ${i}`, { qos: 0 });
    await waitFor(
      "every junk message seen by ingest",
      () => (rejectionCounts(db).MALFORMED ?? 0) >= n,
      60_000,
      50,
    );
    const seconds = (Date.now() - t0) / 1000;
    // 200 at once, then 1000 per second: at least 2.8 s, however fast the machine
    t.diagnostic(`3000 messages passed in ${seconds} s`);
    assert.ok(seconds >= 2.5, `3000 messages passed in ${seconds} s`);
    await c.endAsync();
    const counts = rejectionCounts(db);
    assert.ok((counts.BROKER_THROTTLED ?? 0) >= n / 2, JSON.stringify(counts));
    const out = agg.output();
    assert.equal(count(out, /publishes slowed down.*id=flood/g), 1);
    assert.equal(count(out, /envelope rejected.*code=MALFORMED/g), 1, "3000 rejections, one WARN line");
  });

  it("agent B with its own token and A's client id is refused; A keeps its session", async () => {
    const [alice, bob] = pki.agents;
    const a = await login(url, alice, { clean: false });
    await a.subscribeAsync(topics.agentDown(alice.id), { qos: 1 });
    let aliceClosed = false;
    a.on("close", () => {
      aliceClosed = true;
    });
    await assert.rejects(
      login(url, bob, { clientId: alice.id, clean: false }),
      (e: Error & { code?: number }) => e.code === 2, // CONNACK: identifier rejected
    );
    await waitFor("counted", () => rejectionCounts(db).BROKER_CLIENT_ID_NOT_OWNED === 1);
    // Alice is still connected and her session still delivers her down topic (a receipt).
    const receipt = new Promise<void>((r) => a.once("message", () => r()));
    const seq = loginSeq++;
    const ts = Date.now();
    const env = signEnvelope(
      {
        type: MSG_READING,
        from: alice.id,
        seq,
        ts,
        body: readingBody({ meter: "m", ts, importWh: 1, exportWh: 0, powerW: 5 }),
      },
      alice.key.seed,
    );
    await a.publishAsync(topics.agentUp(alice.id), encodeEnvelope(env), { qos: 1 });
    await receipt;
    assert.equal(aliceClosed, false);
    await a.endAsync();
  });

  it("a token for another aggregator and a replayed token are refused with their codes, after a restart too", async () => {
    const alice = pki.agents[0];
    await assert.rejects(
      login(url, alice, { audience: "agg-2" }),
      (e: Error & { code?: number }) => e.code === 4,
    );
    await waitFor("counted", () => rejectionCounts(db).BROKER_WRONG_AUDIENCE === 1);

    const clientId = `${alice.id}/sniffed`;
    const token = loginToken(alice.key, alice.cert, {
      clientId,
      audience: "agg-1",
      seq: loginSeq++,
      now: Date.now(),
    });
    const first = await login(url, alice, { clientId, password: token });
    await first.endAsync();
    await assert.rejects(
      login(url, alice, { clientId, password: token }),
      (e: Error & { code?: number }) => e.code === 4,
    );
    await waitFor("counted", () => rejectionCounts(db).BROKER_REPLAY === 1);

    // The highest login sequence survives a restart of the aggregator.
    assert.equal(await agg.stop(), 0);
    agg = spawnGridlet(aggArgs);
    await agg.waitForOutput(/aggregator started/);
    await assert.rejects(
      login(url, alice, { clientId, password: token }),
      (e: Error & { code?: number }) => e.code === 4,
    );
    await waitFor("counted after the restart", () => rejectionCounts(db).BROKER_REPLAY === 2);
    const fresh = await login(url, alice, { clientId });
    await fresh.endAsync();
  });
});

function count(text: string, re: RegExp): number {
  return [...text.matchAll(re)].length;
}

function freePortOf(url: string): number {
  return Number(new URL(url).port);
}
