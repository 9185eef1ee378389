import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { Aedes } from "#aedes";
import { fromHex } from "../../../protocol/bytes.js";
import { NodeEd25519 } from "../../../protocol/crypto/index.js";
import { type Envelope, envelopeSigningBytes, signEnvelope } from "../../../protocol/envelope.js";
import { KvMachine } from "../../ledger/kv-machine.js";
import { cachingVerifier, ed25519Signer, ed25519Verifier } from "../../ledger/signing.js";
import { verifyConsortium } from "../consortium.js";
import { Replica } from "../replica.js";
import { DEFAULT_CONFIG } from "../types.js";
import { MemoryLog, ReplicaHost } from "./host.js";
import { MqttLink } from "./mqtt.js";

/** What the bench's parent process tells one member process (as JSON on the command line). */
export interface BenchNodeSpec {
  index: number;
  seedHex: string;
  port: number;
  caPublicKeyHex: string;
  consortiumFile: unknown;
  slotTimeoutMs: number;
}

/**
 * One aggregator in its own process for the multi-process bench: its own Aedes broker on 127.0.0.1, MQTT
 * links to its peers' brokers, the PBFT core with real ed25519, and its own clients' pre-signed
 * transactions. Protocol on stdio, one JSON object per line: it prints {ready}, reads {run: {seconds,
 * rate?}}, prints {result}, and exits on {stop}.
 */
export async function runBenchNode(spec: BenchNodeSpec): Promise<void> {
  const crypto = new NodeEd25519();
  const consortium = verifyConsortium(spec.consortiumFile, fromHex(spec.caPublicKeyHex)!, crypto);
  const members = consortium.members.map((m) => m.id);
  const self = members[spec.index];
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(spec.port, "127.0.0.1", resolve));
  const keys = new Map(consortium.members.map((m) => [m.id, fromHex(m.publicKey)!]));
  const clientSeed = new Uint8Array(randomBytes(32));
  const clientId = `client-of-${self}`;
  const clientKey = crypto.publicKey(clientSeed);
  // Every member must know every client's key to check proposals: clients are derived from the member
  // index so that peers can rebuild them without a directory.
  const clientKeys = new Map<string, Uint8Array>([[clientId, clientKey]]);
  const validateTx = (tx: unknown): boolean => {
    const e = tx as Envelope & { pub?: string };
    const key = clientKeys.get(e?.from) ?? (typeof e?.pub === "string" ? learn(e.from, e.pub) : undefined);
    const sig = typeof e?.sig === "string" ? fromHex(e.sig) : undefined;
    return key !== undefined && sig !== undefined && crypto.verify(sig, envelopeSigningBytes(e), key);
  };
  // A bench-only shortcut: the client's key rides along the first time; production agents have certificates.
  const learn = (id: string, pubHex: string) => {
    const k = fromHex(pubHex);
    if (k !== undefined && id.startsWith("client-of-")) clientKeys.set(id, k);
    return k;
  };
  const core = new Replica(
    { ...DEFAULT_CONFIG, members, self, maxBatch: 256, batchDelayMs: 2, slotTimeoutMs: spec.slotTimeoutMs },
    {
      signer: ed25519Signer(self, fromHex(spec.seedHex)!, crypto),
      verifier: cachingVerifier(ed25519Verifier(keys, crypto)),
      machine: new KvMachine(),
      validateTx,
    },
  );
  const submittedAt = new Map<number, number>();
  const latencies: number[] = [];
  let committed = 0;
  let outstanding = 0;
  let measuring = false;
  let host: ReplicaHost | undefined;
  const link = new MqttLink({
    consortium,
    self,
    seed: fromHex(spec.seedHex)!,
    crypto,
    deliver: (m) => host?.deliver(m),
  });
  host = new ReplicaHost(core, link, new MemoryLog(), {
    commit: (entry, _hash, at) => {
      for (const tx of entry.block.txs) {
        const e = tx as Envelope;
        if (e.from !== clientId) continue;
        const t = submittedAt.get(e.seq);
        if (t === undefined) continue;
        outstanding--;
        if (measuring) {
          committed++;
          latencies.push(at - t);
        }
      }
    },
  });
  await link.ready(10_000);
  host.start();
  const pubHex = Buffer.from(clientKey).toString("hex");
  const txs: Envelope[] = [];
  let seq = 0;
  const presign = (count: number) => {
    for (let i = 0; i < count; i++) {
      const body = { n: seq };
      txs.push({
        ...signEnvelope({ type: "bench/tx", from: clientId, seq: ++seq, ts: 0, body }, clientSeed, crypto),
        pub: pubHex,
      } as Envelope);
    }
  };
  const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  say({ ready: self });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const cmd = JSON.parse(line) as {
      run?: { seconds: number; rate?: number; presign: number };
      stop?: boolean;
    };
    if (cmd.stop) break;
    if (cmd.run === undefined) continue;
    presign(cmd.run.presign);
    // Start each run from an empty queue, so that one run's backlog does not count in the next.
    const drainUntil = Date.now() + 15_000;
    while (outstanding > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
    const { seconds, rate } = cmd.run;
    let next = 0;
    let carry = 0;
    let last = Date.now();
    const submit = () => {
      if (next >= txs.length) return false;
      const tx = txs[next++];
      submittedAt.set(tx.seq, Date.now());
      outstanding++;
      host.submit(tx);
      return true;
    };
    const feeder = setInterval(() => {
      const now = Date.now();
      if (rate === undefined) while (outstanding < 512 && submit());
      else {
        carry += (rate * (now - last)) / 1000;
        for (; carry >= 1; carry--) submit();
      }
      last = now;
    }, 5);
    await new Promise((r) => setTimeout(r, 1000));
    measuring = true;
    committed = 0;
    latencies.length = 0;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const elapsed = (Date.now() - t0) / 1000;
    clearInterval(feeder);
    say({ result: { member: self, committed, elapsed, latencies } });
  }
  host.stop();
  await link.close();
  await new Promise<void>((resolve) => broker.close(() => server.close(() => resolve())));
}
