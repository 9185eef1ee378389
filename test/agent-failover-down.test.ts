/**
 * Down messages after a fail-over: receipts, fills and views from any aggregator of the agent's list
 * are verified and opened with that aggregator's own keys; anything else is refused and counted.
 * A real SQLite store, real signatures and boxes; no broker (the runtime is not started).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { tradingConfigSchema } from "../agent/participant/config.js";
import { Participant } from "../agent/participant/participant.js";
import { AgentRuntime } from "../agent/runtime/agent.js";
import { AgentStore } from "../agent/store/agent-store.js";
import { boxKeyPairFromSecret, seal } from "../protocol/crypto/box.js";
import { decodeEnvelope, encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { type KeyMaterial, newKeyMaterial } from "../protocol/identity.js";
import { createLogger } from "../protocol/log.js";
import type { Fill } from "../protocol/messages/trading.js";
import { nullNotifier } from "../protocol/notify.js";
import { testCertificate } from "./helpers/fixtures.js";

const NOW = 1_700_000_000_000;

function pki() {
  const caKey = newKeyMaterial("ca");
  const cert = (id: string, role: "agent" | "aggregator", k: KeyMaterial, wallets?: string[]) =>
    testCertificate(caKey.seed, id, role, k, wallets);
  const keys = { eag0: newKeyMaterial("eag0"), eag1: newKeyMaterial("eag1"), eag2: newKeyMaterial("eag2") };
  const agentKey = newKeyMaterial("family");
  return {
    keys,
    certs: {
      eag0: cert("eag0", "aggregator", keys.eag0),
      eag1: cert("eag1", "aggregator", keys.eag1),
      eag2: cert("eag2", "aggregator", keys.eag2),
    },
    identity: {
      key: agentKey,
      cert: cert("family", "agent", agentKey, ["gwwallet0001"]),
      ca: cert("ca", "aggregator", caKey),
      revocations: undefined,
    },
  };
}

test("receipts from a fail-over aggregator of the list clear the outbox; others are refused and counted", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-failover-down-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = pki();
  const store = new AgentStore(join(dir, "agent.db"), "family", () => NOW * 1000);
  const rows = store.appendReadings(
    [1, 2, 3].map((i) => ({ meter: "m", ts: NOW - i, importWh: i, exportWh: 0, powerW: 0 })),
    (_r, seq) => ({ type: "reading", payload: JSON.stringify({ reading: seq }) }),
  );
  const runtime = new AgentRuntime({
    id: "family",
    intervalMs: 1000,
    identity: p.identity,
    aggregator: p.certs.eag0,
    aggregators: [
      { cert: p.certs.eag0, url: "mqtt://127.0.0.1:1" },
      { cert: p.certs.eag1, url: "mqtt://127.0.0.1:2" },
    ],
    drivers: [],
    store,
    mqtt: {
      url: "mqtt://127.0.0.1:1",
      clientId: "family",
      keepaliveSeconds: 30,
      reconnectMinMs: 1000,
      reconnectMaxMs: 2000,
      inflight: 10,
      receiptTimeoutMs: 5000,
    },
    homeAssistant: { enabled: false, prefix: "homeassistant", stateIntervalMs: 0 },
    notifier: nullNotifier,
    log: createLogger("test:failover-down"),
    now: () => NOW,
  });
  t.after(() => runtime.stop());
  const receipt = (from: "eag0" | "eag1" | "eag2", acks: number[], key = p.keys[from]) =>
    encodeEnvelope(
      signEnvelope({ type: "receipt", from, seq: 1, ts: NOW, body: { to: "family", acks } }, key.seed),
    );
  runtime.receiveDown(receipt("eag2", [rows[0].seq]));
  assert.equal(runtime.counters.foreignDown, 1, "an aggregator not in the list is refused");
  runtime.receiveDown(receipt("eag1", [rows[0].seq], p.keys.eag2));
  assert.equal(runtime.counters.badReceipts, 1, "a receipt in eag1's name must carry eag1's signature");
  assert.equal(store.outboxAfter(0, 10).length, 3, "nothing acknowledged yet");
  runtime.receiveDown(receipt("eag1", [rows[0].seq, rows[1].seq]));
  runtime.receiveDown(receipt("eag0", [rows[2].seq]));
  assert.equal(runtime.counters.receipts, 2);
  assert.equal(store.outboxAfter(0, 10).length, 0, "the guest's and the home's receipts both count");
});

test("fills and views sealed by a fail-over aggregator open with its box key; a forged sender does not", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-failover-sealed-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = pki();
  const store = new AgentStore(join(dir, "agent.db"), "family", () => 1);
  t.after(() => store.close());
  const participant = new Participant({
    id: "family",
    identity: p.identity,
    aggregator: p.certs.eag0,
    aggregators: [p.certs.eag0, p.certs.eag1],
    store,
    config: tradingConfigSchema.parse({
      enabled: true,
      market: { intervalMs: 10_000, depositPct: 10, maxPriceMcPerKwh: 1_000_000 },
    }),
    log: createLogger("test:failover-sealed"),
    now: () => NOW,
    kick: () => undefined,
  });
  const agentBox = boxKeyPairFromSecret(p.identity.key.boxSecret).publicKey;
  const down = (from: string, sealer: KeyMaterial, type: string, v: unknown, seq: number) =>
    decodeEnvelope(
      encodeEnvelope(
        signEnvelope(
          {
            type,
            from,
            seq,
            ts: NOW + seq,
            body: seal(Buffer.from(JSON.stringify(v)), agentBox, boxKeyPairFromSecret(sealer.boxSecret)),
          },
          sealer.seed,
        ),
      ),
    );
  const fill = (tradeId: string): Fill => ({
    tradeId,
    orderId: "o-1",
    side: "buy",
    interval: 101,
    energyWh: 400,
    priceMcPerKwh: 200_000,
    paymentMc: 80_000,
    depositMc: 8000,
  });
  participant.onDown(down("eag1", p.keys.eag1, "fill", fill("tr-guest"), 1));
  participant.onDown(down("eag0", p.keys.eag0, "fill", fill("tr-home"), 2));
  assert.equal(participant.counters.fills, 2, "sealed by the guest and by the home");
  const view = {
    agent: "family",
    wallets: [{ address: "gwwallet0001", balanceMc: 19_000, frozenMc: 0, availableMc: 19_000 }],
    openOrders: [],
    openTrades: [],
    reputation: {
      activity: 1,
      reputation: 1,
      active: 1,
      beta: 0.5,
      delta: 0.5,
      lastDir: 0,
      streak: 0,
      lastActiveMs: null,
    },
    blacklisted: false,
  };
  participant.onDown(down("eag1", p.keys.eag1, "account.view", view, 3));
  assert.equal(participant.state.view()?.view.wallets[0].balanceMc, 19_000);
  // eag2's box in eag1's name does not open with eag1's key; eag2 itself is not in the list
  participant.onDown(down("eag1", p.keys.eag2, "fill", fill("tr-forged"), 4));
  participant.onDown(down("eag2", p.keys.eag2, "fill", fill("tr-foreign"), 5));
  assert.equal(participant.counters.badDown, 2);
  assert.equal(participant.counters.fills, 2);
});
