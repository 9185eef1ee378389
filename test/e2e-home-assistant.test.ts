/**
 * Home Assistant as its users run it: the agent mirrors discovery, state and availability to the
 * operator's own Mosquitto (with a password), where a subscriber standing in for HA checks every
 * discovery payload against HA's documented schema (test/helpers/ha-discovery-schema.ts). An SDM630
 * behind a Modbus TCP gateway gives all six quantities; a synthetic meter that stops answering shows
 * per-meter availability; kill -9 shows the agent's last will on the operator's broker.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import mqtt from "#mqtt";
import { parse, stringify } from "#yaml";
import { getProfile } from "../agent/meters/profiles/load.js";
import { writeAgentConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { fixedState } from "../hardware/emulators/state.js";
import { TcpMeterEmulator } from "../hardware/emulators/tcp.js";
import { gridletVersion } from "../protocol/version.js";
import { ENTITY_ID, haSensorDiscoverySchema } from "./helpers/ha-discovery-schema.js";
import { startMosquitto } from "./helpers/mosquitto.js";

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

function record(client: mqtt.MqttClient): Seen[] {
  const seen: Seen[] = [];
  client.on("message", (topic, payload, packet) =>
    seen.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  return seen;
}

const latest = (seen: Seen[], topic: string) => seen.findLast((m) => m.topic === topic)?.payload;

/** Every discovery payload checked against HA's schema; the parsed configs by topic. */
function validDiscovery(seen: Seen[]): Map<string, ReturnType<typeof haSensorDiscoverySchema.parse>> {
  const out = new Map<string, ReturnType<typeof haSensorDiscoverySchema.parse>>();
  for (const m of seen.filter((x) => x.topic.startsWith("homeassistant/"))) {
    assert.match(m.topic, /^homeassistant\/sensor\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+\/config$/);
    const r = haSensorDiscoverySchema.safeParse(JSON.parse(m.payload));
    assert.ok(r.success, `${m.topic}: ${r.success ? "" : JSON.stringify(r.error.issues)}`);
    out.set(m.topic, r.data);
  }
  return out;
}

describe("Home Assistant sees the agent's meters", { timeout: 90_000 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** Stopped in reverse order after each test, whatever failed. */
  const running: (() => Promise<unknown>)[] = [];
  const keep = <T extends { stop(): Promise<unknown> } | { endAsync(): Promise<unknown> }>(x: T): T => {
    running.push(() => ("stop" in x ? x.stop() : x.endAsync()));
    return x;
  };
  afterEach(async () => {
    for (const stop of running.splice(0).reverse()) await stop().catch(() => undefined);
  });

  it("on the operator's own broker: HA's schema, state on every reading, per-meter availability, last will", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const passwords = join(tmp.dir, "ha.passwd");
    execFileSync("mosquitto_passwd", ["-c", "-b", passwords, "gridlet", "ha-secret"]);
    const aggBroker = keep(await startMosquitto(tmp.dir, await freePort()));
    // Run as root, Mosquitto drops to its own user, which cannot read a file in this 0700 directory.
    const asRoot = process.getuid?.() === 0 ? "user root\n" : "";
    const haBroker = keep(
      await startMosquitto(
        tmp.dir,
        await freePort(),
        `allow_anonymous false\npassword_file ${passwords}\n${asRoot}`,
      ),
    );
    const emu = keep(
      await TcpMeterEmulator.start([{ unit: 1, profile: getProfile("sdm630"), state: fixedState().get }]),
    );
    const httpPort = await freePort();
    const config = writeAgentConfig(tmp.dir, pki, 0, {
      url: aggBroker.url,
      intervalMs: 250,
      meters: [
        { id: "grid", driver: "modbus-tcp", host: "127.0.0.1", port: emu.port, unitId: 1, profile: "sdm630" },
        { id: "pv", driver: "synthetic", powerW: -900, readings: 12 },
      ],
    });
    const doc = parse(readFileSync(config, "utf8")) as Record<string, unknown>;
    doc.homeAssistant = {
      supportUrl: "https://gridlet.example/support",
      broker: { url: haBroker.url, username: "gridlet", password: "ha-secret" },
    };
    doc.http = { port: httpPort };
    writeFileSync(config, stringify(doc));

    const haLogin = { username: "gridlet", password: "ha-secret", reconnectPeriod: 0 };
    const ha = keep(mqtt.connect(haBroker.url, { clientId: "home-assistant", ...haLogin }));
    const spy = keep(mqtt.connect(aggBroker.url, { clientId: "spy", reconnectPeriod: 0 }));
    const seen = record(ha);
    const onAggregatorBroker = record(spy);
    await ha.subscribeAsync(["homeassistant/#", "gridlet/#"]);
    await spy.subscribeAsync(["homeassistant/#", "gridlet/v1/agent/+/meter/#"]);
    const agent = keep(spawnGridlet(["agent", "--config", config]));
    const gridState = "gridlet/v1/agent/agent-1/meter/grid/state";
    const readingsOf = async (meter: string) => {
      const s = (await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json()) as {
        meters: { id: string; readings: number }[];
      };
      return s.meters.find((m) => m.id === meter)!.readings;
    };
    {
      await waitFor("the grid meter's discovery, state and the agent online", () => {
        const configs = seen.filter((m) => m.topic.startsWith("homeassistant/sensor/gridlet_agent-1/grid_"));
        return (
          new Set(configs.map((m) => m.topic)).size === 6 &&
          latest(seen, "gridlet/v1/agent/agent-1/status") === "online" &&
          latest(seen, gridState) !== undefined
        );
      });

      // State on every reading: as many state messages as readings stored in a window (±1 at its edges).
      const before = await readingsOf("grid");
      const statesBefore = seen.filter((m) => m.topic === gridState).length;
      await new Promise((r) => setTimeout(r, 2500));
      const readings = (await readingsOf("grid")) - before;
      const states = seen.filter((m) => m.topic === gridState).length - statesBefore;
      assert.ok(readings >= 5, `the meter was read (${readings} readings)`);
      assert.ok(Math.abs(states - readings) <= 1, `${states} state messages for ${readings} readings`);
      const state = JSON.parse(latest(seen, gridState)!);
      assert.equal(state.import_kwh, 1234.567);
      assert.equal(state.power_w, 1500);
      assert.equal(state.voltage_v, 230.1);
      assert.ok(Math.abs(state.current_a - 6.52) < 1e-5);
      assert.equal(state.frequency_hz, 50);

      const configs = validDiscovery(seen);
      const ids = [...configs.values()].map((c) => c.default_entity_id);
      assert.equal(new Set(ids).size, ids.length, "one entity id per sensor");
      for (const id of ids) assert.match(id, ENTITY_ID);
      const classes = [...configs.entries()]
        .filter(([t]) => t.includes("/grid_"))
        .map(([, c]) => `${c.device_class}/${c.state_class}/${c.unit_of_measurement}`)
        .sort();
      assert.deepEqual(classes, [
        "current/measurement/A",
        "energy/total_increasing/kWh",
        "energy/total_increasing/kWh",
        "frequency/measurement/Hz",
        "power/measurement/W",
        "voltage/measurement/V",
      ]);
      const imp = configs.get("homeassistant/sensor/gridlet_agent-1/grid_import/config")!;
      assert.deepEqual(imp.origin, {
        name: "gridlet",
        sw_version: gridletVersion(),
        support_url: "https://gridlet.example/support",
      });
      assert.equal(imp.device.sw_version, gridletVersion());
      assert.equal(imp.device.model, "sdm630 (modbus-tcp)");

      // The synthetic pv meter stops after 12 readings: its availability goes offline, the grid's stays.
      await waitFor(
        "pv offline",
        () => latest(seen, "gridlet/v1/agent/agent-1/meter/pv/availability") === "offline",
      );
      assert.equal(latest(seen, "gridlet/v1/agent/agent-1/meter/grid/availability"), "online");
      assert.deepEqual(
        [...configs.keys()].filter((t) => t.includes("/pv_")).sort(),
        ["export", "import", "power"].map((k) => `homeassistant/sensor/gridlet_agent-1/pv_${k}/config`),
        "only the quantities the meter gives",
      );
      assert.deepEqual(onAggregatorBroker, [], "nothing for HA goes to the aggregator's broker");

      // Retained: Home Assistant started later still finds every config, state and availability.
      const late = keep(mqtt.connect(haBroker.url, { clientId: "home-assistant-later", ...haLogin }));
      const replayed = record(late);
      await late.subscribeAsync(["homeassistant/#", "gridlet/v1/agent/agent-1/meter/+/+"]);
      await waitFor("the retained messages", () => replayed.length >= configs.size + 4);
      // the first message of every topic is the retained copy (a live state may follow while we wait,
      // and live deliveries carry no retain flag [MQTT-3.3.1-9])
      const firstOf = new Map<string, boolean>();
      for (const m of replayed) if (!firstOf.has(m.topic)) firstOf.set(m.topic, m.retain);
      assert.ok(
        [...firstOf.values()].every((r) => r),
        "every topic starts with its retained message",
      );
      const replayedConfigs = replayed
        .filter((m) => m.topic.startsWith("homeassistant/"))
        .map((m) => m.topic);
      assert.equal(new Set(replayedConfigs).size, configs.size);

      agent.child.kill("SIGKILL");
      await waitFor(
        "the last will on the operator's broker",
        () => latest(seen, "gridlet/v1/agent/agent-1/status") === "offline",
      );
    }
  });

  it("without a broker of its own, on the aggregator's broker (an external Mosquitto)", async () => {
    const pki = makePki(join(tmp.dir, "b"), "agg-1", ["agent-2"]);
    const broker = keep(await startMosquitto(tmp.dir, await freePort()));
    const ha = keep(mqtt.connect(broker.url, { clientId: "home-assistant", reconnectPeriod: 0 }));
    const seen = record(ha);
    await ha.subscribeAsync(["homeassistant/#", "gridlet/#"]);
    keep(
      spawnGridlet([
        "agent",
        "--config",
        writeAgentConfig(join(tmp.dir, "b"), pki, 0, {
          url: broker.url,
          meters: [{ id: "main", driver: "synthetic", powerW: 1800 }],
        }),
      ]),
    );
    await waitFor("discovery and state", () => {
      const n = new Set(seen.filter((m) => m.topic.startsWith("homeassistant/")).map((m) => m.topic)).size;
      return n === 3 && latest(seen, "gridlet/v1/agent/agent-2/meter/main/state") !== undefined;
    });
    assert.equal(validDiscovery(seen).size, 3);
    assert.equal(JSON.parse(latest(seen, "gridlet/v1/agent/agent-2/meter/main/state")!).power_w, 1800);
  });
});
