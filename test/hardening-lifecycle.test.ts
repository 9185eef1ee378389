import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import mqtt from "#mqtt";
import { readingBody } from "../agent/runtime/agent.js";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { GRIDLET_MAIN, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir } from "../bench/harness/tmp.js";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { loginToken } from "../protocol/login.js";
import { MSG_READING } from "../protocol/messages/readings.js";
import { topics } from "../protocol/topics.js";

const isRoot = process.getuid?.() === 0;
const canMount =
  isRoot && spawnSync("unshare", ["-m", "true"], { stdio: "ignore" }).status === 0
    ? true
    : "mounting a small tmpfs for a full disk needs root and unshare(1)";

/** A failure reported in one line: no stack trace, no "at ..." frames. */
function assertOneClearLine(stderr: string, pattern: RegExp): void {
  assert.match(stderr, pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, `a stack trace:\n${stderr}`);
}

describe("lifecycle: one process per store, clear failures, exit codes", { timeout: 180_000 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1", "agent-2"]);
  });
  after(() => tmp.cleanup());

  it("a second aggregator on the same store exits 2 naming the first's PID; the first runs on", async () => {
    const dir = join(tmp.dir, "twice");
    mkdirSync(dir);
    const config = writeAggregatorConfig(dir, pki, { embeddedPort: await freePort() });
    const first = spawnGridlet(["aggregator", "--config", config]);
    try {
      await first.waitForOutput(/aggregator started/);
      const t0 = Date.now();
      const second = await runGridlet(["aggregator", "--config", config]);
      assert.equal(second.code, 2, second.stderr);
      assertOneClearLine(second.stderr, new RegExp(`in use by process ${first.child.pid}`));
      assert.ok(Date.now() - t0 < 15_000);
      assert.equal(first.child.exitCode, null, "the first is still running");
    } finally {
      assert.equal(await first.stop(), 0);
    }
  });

  it("SIGTERM: the aggregator tells its agents it is offline, logs no warning and exits 0", async () => {
    const dir = join(tmp.dir, "offline");
    mkdirSync(dir);
    const port = await freePort();
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki, { embeddedPort: port }),
    ]);
    await agg.waitForOutput(/aggregator started/);
    const a = pki.agents[0];
    const clientId = `${a.id}/observer`;
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId,
      username: a.id,
      password: loginToken(a.key, a.cert, {
        clientId,
        audience: "agg-1",
        seq: Date.now() * 1000,
        now: Date.now(),
      }),
      reconnectPeriod: 0,
    });
    c.on("error", () => undefined);
    const statuses: string[] = [];
    c.on("message", (_t, payload) => statuses.push(payload.toString()));
    await c.subscribeAsync(topics.aggregatorStatus("agg-1"), { qos: 1 });
    const mark = agg.output().length;
    assert.equal(await agg.stop("SIGTERM"), 0);
    c.end(true);
    assert.deepEqual(statuses, ["online", "offline"]);
    assert.doesNotMatch(agg.output().slice(mark), /^\S*\s*(WARN|ERROR)\b/m);
  });

  it("a port in use exits 2 at once, never hangs", async () => {
    const dir = join(tmp.dir, "port");
    mkdirSync(dir);
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", r));
    const port = (squatter.address() as { port: number }).port;
    try {
      const r = await runGridlet([
        "aggregator",
        "--config",
        writeAggregatorConfig(dir, pki, { embeddedPort: port }),
      ]);
      assert.equal(r.code, 2, r.stderr);
      assertOneClearLine(r.stderr, /ADDRESS_IN_USE: broker\.embedded: 127\.0\.0\.1:\d+ is already in use/);
    } finally {
      squatter.close();
    }
  });

  it("an agent started twice on one store: the second exits 2", async () => {
    const dir = join(tmp.dir, "agent-twice");
    mkdirSync(dir);
    const config = writeAgentConfig(dir, pki, 0, { url: `mqtt://127.0.0.1:${await freePort()}` });
    const first = spawnGridlet(["agent", "--config", config]);
    try {
      await first.waitForOutput(/agent started/);
      const second = await runGridlet(["agent", "--config", config]);
      assert.equal(second.code, 2, second.stderr);
      assertOneClearLine(second.stderr, /STORE_LOCKED: agent store .* in use by process/);
    } finally {
      assert.equal(await first.stop(), 0);
    }
  });

  it("an identity file or a genesis that is wrong exits 2, naming the field and the file", async () => {
    const dir = join(tmp.dir, "identity");
    mkdirSync(dir);
    const config = writeAggregatorConfig(dir, pki, { embeddedPort: await freePort() });
    const badCert = join(dir, "garbage.cert.json");
    writeFileSync(badCert, "{ not json");
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(/cert: .*agg-1\.cert\.json/, `cert: ${badCert}`),
    );
    const r = await runGridlet(["aggregator", "--config", config]);
    assert.equal(r.code, 2, r.stderr);
    assertOneClearLine(r.stderr, /IDENTITY_FILE: identity\.cert \(.*garbage\.cert\.json\)/);
  });

  it("a corrupt last page of an agent store: one clear error at start, exit 1", async () => {
    const dir = join(tmp.dir, "corrupt");
    mkdirSync(dir);
    const store = join(dir, "agent.sqlite");
    const config = writeAgentConfig(dir, pki, 1, {
      url: `mqtt://127.0.0.1:${await freePort()}`,
      storePath: store,
      intervalMs: 100,
    });
    const agent = spawnGridlet(["agent", "--config", config]);
    await agent.waitForOutput(/agent started/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await agent.stop(), 0);
    // the last page of the file (the checkpoint on close moved the WAL into it) overwritten
    const fd = openSync(store, "r+");
    const size = fstatSync(fd).size;
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, size - 4096);
    closeSync(fd);
    const r = await runGridlet(["agent", "--config", config]);
    assert.equal(r.code, 1, r.stderr);
    assertOneClearLine(r.stderr, /STORE_CORRUPT: agent store .*agent\.sqlite/);
  });

  it("a store that cannot be written: one clear error at start, exit 1", async () => {
    const dir = join(tmp.dir, "read-only");
    mkdirSync(dir);
    const config = writeAggregatorConfig(dir, pki, { embeddedPort: await freePort() });
    const made = spawnGridlet(["aggregator", "--config", config]);
    await made.waitForOutput(/aggregator started/);
    assert.equal(await made.stop(), 0);
    const store = join(dir, "agg-1.sqlite");
    // root writes through file modes, not through the immutable attribute
    if (isRoot) assert.equal(spawnSync("chattr", ["+i", store]).status, 0);
    else chmodSync(store, 0o444);
    try {
      const r = await runGridlet(["aggregator", "--config", config]);
      assert.equal(r.code, 1, r.stderr);
      assertOneClearLine(r.stderr, /STORE_READ_ONLY: aggregator store .*agg-1\.sqlite cannot be written/);
    } finally {
      if (isRoot) spawnSync("chattr", ["-i", store]);
    }
  });

  it("the disk fills up while the aggregator runs: one clear error, exit 1", {
    skip: canMount !== true ? canMount : false,
  }, async () => {
    const dir = join(tmp.dir, "full");
    const small = join(dir, "small");
    mkdirSync(small, { recursive: true });
    const port = await freePort();
    const config = writeAggregatorConfig(dir, pki, { embeddedPort: port });
    // the store on a 600 KiB tmpfs, in a mount namespace of its own that ends with the process
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(/path: .*agg-1\.sqlite/, `path: ${join(small, "agg-1.sqlite")}`),
    );
    const child = spawn(
      "unshare",
      [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount -t tmpfs -o size=600k tmpfs '${small}' && exec '${process.execPath}' '${GRIDLET_MAIN}' aggregator --config '${config}'`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/aggregator started/.test(err)) {
        assert.ok(Date.now() < deadline && child.exitCode === null, err);
        await new Promise((r) => setTimeout(r, 100));
      }
      const a = pki.agents[0];
      const clientId = `${a.id}/fill`;
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId,
        username: a.id,
        password: loginToken(a.key, a.cert, {
          clientId,
          audience: "agg-1",
          seq: Date.now() * 1000,
          now: Date.now(),
        }),
        reconnectPeriod: 0,
      });
      c.on("error", () => undefined);
      const now = Date.now();
      for (let seq = 1; seq <= 20_000 && child.exitCode === null; seq++) {
        const ts = now - 20_000 + seq;
        const env = signEnvelope(
          {
            type: MSG_READING,
            from: a.id,
            seq,
            ts,
            body: readingBody({ meter: `m-${"x".repeat(40)}`, ts, importWh: seq, exportWh: 0, powerW: 1 }),
          },
          a.key.seed,
        );
        c.publish(topics.agentUp(a.id), encodeEnvelope(env), { qos: 0 });
        if (seq % 200 === 0) await new Promise((r) => setTimeout(r, 20));
      }
      c.end(true);
      assert.equal(await exited, 1, err);
      assertOneClearLine(err, /fatal: STORE_FULL: .*the disk is full/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
