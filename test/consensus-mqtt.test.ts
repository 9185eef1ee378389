import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Aedes } from "#aedes";
import mqtt from "#mqtt";
import {
  type Consortium,
  loadConsortiumFile,
  memberKeys,
  signConsortium,
} from "../aggregator/consensus/consortium.js";
import { isConsensusError } from "../aggregator/consensus/errors.js";
import { Replica } from "../aggregator/consensus/replica.js";
import { ReplicaHost } from "../aggregator/consensus/transport/host.js";
import { broadcastTopic, MqttLink } from "../aggregator/consensus/transport/mqtt.js";
import { DEFAULT_CONFIG } from "../aggregator/consensus/types.js";
import { KvMachine, type KvTx } from "../aggregator/ledger/kv-machine.js";
import { ed25519Signer, ed25519Verifier } from "../aggregator/ledger/signing.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { verifyLedger } from "../aggregator/ledger/verify.js";
import { toHex } from "../protocol/bytes.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { sha256 } from "../protocol/hash.js";

const crypto = defaultEd25519;
const dir = mkdtempSync(join(tmpdir(), "gridlet-mqtt-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Broker {
  port: number;
  close(): Promise<void>;
}

async function startBroker(): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
      }),
  };
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("the consortium file is checked against the CA key", () => {
  const ca = sha256("ca");
  const other = sha256("not the ca");
  const body: Consortium = {
    v: 1,
    name: "t",
    issued: 1,
    members: [
      { id: "eag0", publicKey: toHex(crypto.publicKey(sha256("k0"))), broker: "mqtt://127.0.0.1:1883" },
    ],
  };
  const file = join(dir, "consortium.json");
  writeFileSync(file, JSON.stringify(signConsortium(body, ca, crypto)));
  assert.equal(loadConsortiumFile(file, crypto.publicKey(ca), crypto).members[0].id, "eag0");
  assert.throws(
    () => loadConsortiumFile(file, crypto.publicKey(other), crypto),
    (e) => isConsensusError(e, "CONSORTIUM_SIGNATURE"),
  );
  const tampered = signConsortium(body, ca, crypto);
  tampered.consortium.members[0].broker = "mqtt://127.0.0.1:9999";
  writeFileSync(file, JSON.stringify(tampered));
  assert.throws(
    () => loadConsortiumFile(file, crypto.publicKey(ca), crypto),
    (e) => isConsensusError(e, "CONSORTIUM_SIGNATURE"),
  );
  assert.throws(
    () => signConsortium({ ...body, members: [body.members[0], body.members[0]] }, ca, crypto),
    (e) => isConsensusError(e, "CONSORTIUM_INVALID") && /duplicate/.test(e.message),
  );
  assert.throws(
    () => signConsortium({ ...body, members: [{ ...body.members[0], broker: "http://x" }] }, ca, crypto),
    (e) => isConsensusError(e, "CONSORTIUM_INVALID") && /members\.0\.broker/.test(e.message),
  );
});

test("4 aggregators over their own MQTT brokers: commit, refuse forgeries, lose one, bring it back", async () => {
  const n = 4;
  const brokers = await Promise.all(Array.from({ length: n }, startBroker));
  const ca = sha256("consortium-ca");
  const seeds = Array.from({ length: n }, (_, i) => sha256(`eag-key-${i}`));
  const signed = signConsortium(
    {
      v: 1,
      name: "test",
      issued: 1,
      members: seeds.map((s, i) => ({
        id: `eag${i}`,
        publicKey: toHex(crypto.publicKey(s)),
        broker: `mqtt://127.0.0.1:${brokers[i].port}`,
      })),
    },
    ca,
    crypto,
  );
  const file = join(dir, "consortium4.json");
  writeFileSync(file, JSON.stringify(signed));
  const consortium = loadConsortiumFile(file, crypto.publicKey(ca), crypto);
  const members = consortium.members.map((m) => m.id);
  const verifier = ed25519Verifier(memberKeys(consortium), crypto);
  const committed = members.map(() => new Set<string>());

  const startNode = async (i: number) => {
    const self = members[i];
    const store = new BlockStore(join(dir, `${self}.db`));
    store.setMeta(
      "members",
      consortium.members.map((m) => ({ id: m.id, publicKey: m.publicKey })),
    );
    store.setMeta("machine", "kv");
    const core = new Replica(
      { ...DEFAULT_CONFIG, members, self, slotTimeoutMs: 400, checkpointInterval: 2 },
      { signer: ed25519Signer(self, seeds[i], crypto), verifier, machine: new KvMachine() },
    );
    let host: ReplicaHost | undefined;
    const link = new MqttLink({ consortium, self, seed: seeds[i], crypto, deliver: (m) => host?.deliver(m) });
    host = new ReplicaHost(core, link, store, {
      commit: (entry) => {
        for (const tx of entry.block.txs) committed[i].add((tx as KvTx).id);
      },
    });
    await link.ready();
    host.start();
    return { host, link, store };
  };
  const nodes = await Promise.all(members.map((_, i) => startNode(i)));
  const all = (ids: string[], who: number[]) => who.every((i) => ids.every((id) => committed[i].has(id)));

  try {
    const first = Array.from({ length: 20 }, (_, k) => `t${k}`);
    first.forEach((id, k) => {
      nodes[k % n].host.submit({ id, key: `k${k % 3}`, add: k });
    });
    await until("first transactions everywhere", () => all(first, [0, 1, 2, 3]));

    // A forged message on eag0's own topic: the brokers are untrusted, the envelope check refuses it.
    const rogue = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokers[0].port}`);
    const forged = {
      v: 1,
      type: "consensus",
      from: "eag0",
      seq: 1,
      ts: 0,
      body: { t: "fetch", from: "eag0", fromSeq: 0 },
      sig: "00".repeat(64),
    };
    await rogue.publishAsync(broadcastTopic("eag0"), JSON.stringify(forged));
    // Unsigned kinds may not travel bare, and a bare message must come from the topic's owner.
    await rogue.publishAsync(
      broadcastTopic("eag0"),
      JSON.stringify({ raw: { t: "fetch", from: "eag0", fromSeq: 0 } }),
    );
    const vote = {
      t: "commit",
      from: "eag1",
      round: 0,
      index: 0,
      view: 0,
      hash: "00".repeat(32),
      sig: "00".repeat(64),
    };
    await rogue.publishAsync(broadcastTopic("eag0"), JSON.stringify({ raw: vote }));
    // A bare vote in eag0's name with a bad signature reaches the core, which refuses it.
    const live = nodes[1].host.core as unknown as { base: number };
    const badVote = { ...vote, from: "eag0", round: live.base, index: 1, view: 0 };
    await rogue.publishAsync(broadcastTopic("eag0"), JSON.stringify({ raw: badVote }));
    await until("the forgeries refused", () =>
      nodes
        .slice(1)
        .every(
          (x) =>
            (x.link.refused.get("BAD_SIGNATURE") ?? 0) >= 1 &&
            (x.link.refused.get("UNSIGNED") ?? 0) >= 1 &&
            (x.link.refused.get("WRONG_SENDER") ?? 0) >= 1,
        ),
    );
    await until("the bad vote refused by the core", () =>
      nodes.slice(1).some((x) => (x.host.rejected.get("bad commit signature") ?? 0) >= 1),
    );
    await rogue.endAsync();

    // eag3 goes away with its broker; the other three (2f+1) carry on.
    nodes[3].host.stop();
    await nodes[3].link.close();
    nodes[3].store.close();
    await brokers[3].close();
    const second = Array.from({ length: 9 }, (_, k) => `u${k}`);
    second.forEach((id, k) => {
      nodes[k % 3].host.submit({ id, key: "k", add: 1 });
    });
    await until("transactions without eag3", () => all(second, [0, 1, 2]), 30_000);

    // eag3 comes back on a new broker port? No: same URL, restarted broker; it replays its SQLite ledger
    // and fetches what it missed.
    const again = await startBrokerOn(brokers[3].port);
    brokers[3] = again;
    committed[3].clear();
    nodes[3] = await startNode(3);
    const third = ["v0", "v1", "v2"];
    third.forEach((id, k) => {
      nodes[k].host.submit({ id, key: "k", add: 2 });
    });
    await until("eag3 caught up", () => all([...first, ...second, ...third], [0, 1, 2, 3]), 30_000);

    for (const node of nodes) {
      const report = verifyLedger(node.store, {
        members: consortium.members,
        verifier,
        machine: new KvMachine(),
      });
      assert.ok(report.blocks > 0);
    }
    const heads = nodes.map((x) => x.store.get(x.store.head().nextSeq - 1)?.seq);
    assert.ok(heads.every((h) => h !== undefined));
  } finally {
    for (const node of nodes) {
      node.host.stop();
      await node.link.close();
      node.store.close();
    }
    await Promise.all(brokers.map((b) => b.close()));
  }
});

async function startBrokerOn(port: number): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
      }),
  };
}
