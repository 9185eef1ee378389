import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import mqtt from "mqtt";
import { writeAgentConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { startMosquitto } from "./helpers/mosquitto.js";

describe("Home Assistant sees the agent's meters with no configuration", { timeout: 60_000 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("retained discovery, state and availability, and the last will on kill -9", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const broker = await startMosquitto(tmp.dir, await freePort());
    const agent = spawnGridlet([
      "agent",
      "--config",
      writeAgentConfig(tmp.dir, pki, 0, {
        url: broker.url,
        meters: [
          { id: "grid", driver: "synthetic", powerW: 1800 },
          { id: "pv", driver: "synthetic", powerW: -900 },
        ],
      }),
    ]);
    const ha = mqtt.connect(broker.url, { clientId: "home-assistant", reconnectPeriod: 0 });
    const seen = new Map<string, string>();
    ha.on("message", (topic, payload) => seen.set(topic, payload.toString()));
    try {
      await ha.subscribeAsync([
        "homeassistant/#",
        "gridlet/v1/agent/agent-1/status",
        "gridlet/v1/agent/agent-1/state",
      ]);
      await waitFor("discovery, online status and state", () => {
        const configs = [...seen.keys()].filter((t) => t.startsWith("homeassistant/sensor/gridlet_agent-1/"));
        return (
          configs.length === 6 &&
          seen.get("gridlet/v1/agent/agent-1/status") === "online" &&
          seen.has("gridlet/v1/agent/agent-1/state")
        );
      });
      const exp = JSON.parse(seen.get("homeassistant/sensor/gridlet_agent-1/pv_export/config")!);
      assert.equal(exp.device_class, "energy");
      assert.equal(exp.state_class, "total_increasing");
      const state = JSON.parse(seen.get("gridlet/v1/agent/agent-1/state")!);
      assert.equal(state.grid.power_w, 1800);
      assert.equal(state.pv.power_w, -900);
      assert.equal(typeof state.pv.export_kwh, "number");

      agent.child.kill("SIGKILL");
      await waitFor("the last will", () => seen.get("gridlet/v1/agent/agent-1/status") === "offline");
    } finally {
      await ha.endAsync();
      await agent.stop();
      await broker.stop();
    }
  });
});
