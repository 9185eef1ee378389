import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { MemoryNetwork } from "../aggregator/consensus/transport/memory.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { registerEnvelope } from "../aggregator/node/envelopes.js";
import { LedgerMachine } from "../aggregator/node/machine.js";
import { AggregatorNode } from "../aggregator/node/node.js";
import { SignatureCache } from "../aggregator/node/sig-cache.js";
import { fromHex } from "../protocol/bytes.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { type Envelope, envelopeSigningBytes } from "../protocol/envelope.js";
import { summaryBody } from "./harness/metering.js";
import { makeConsortium, TestAgent } from "./harness/node-consortium.js";

/**
 * The replicated ledger machine: signed agent envelopes applied per second (each re-verified), the
 * signature cache shared by consensus' proposal check and execution, and four aggregators committing
 * over an in-memory network with SQLite block stores. The limit is ed25519 verification measured in the
 * same run: one verification per envelope per replica.
 */

const AGENTS = 20;
const PER_AGENT = 100;
const T0 = 1_800_000_000_000;

function summaries(agents: TestAgent[], now: number): Envelope[] {
  const out: Envelope[] = [];
  for (let i = 0; i < PER_AGENT; i++)
    for (const a of agents) out.push(a.sign("meter.summary", summaryBody(1000 + i, 10, 0), now));
  return out;
}

function registered(c: ReturnType<typeof makeConsortium>, agents: TestAgent[], cache?: SignatureCache) {
  const m = LedgerMachine.fromGenesis(c.genesis, { cache });
  const eag0 = { id: c.members[0].id, seed: c.members[0].seed };
  let h = 0;
  agents.forEach((a, i) => {
    m.apply(registerEnvelope(a.cert, i + 1, T0, eag0), { time: T0, height: h++, proposer: "eag0" });
    m.apply(a.sign("wallet.register", { wallet: a.wallet }, T0), { time: T0, height: h++, proposer: "eag0" });
  });
  return m;
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-node-"));
  try {
    let now = T0;
    const c = makeConsortium(dir, { n: 4, now: () => now, label: "bench" });
    const agents = Array.from({ length: AGENTS }, (_, i) => new TestAgent(c, `a${i}`, "eag0", dir));
    const envs = summaries(agents, now);
    const n = envs.length;

    const keys = new Map(agents.map((a) => [a.id, fromHex(a.cert.publicKey)!]));
    let t = performance.now();
    for (const e of envs) defaultEd25519.verify(fromHex(e.sig)!, envelopeSigningBytes(e), keys.get(e.from)!);
    const verifyPerSecond = n / ((performance.now() - t) / 1000);

    const cold = registered(c, agents, new SignatureCache(undefined, 1));
    t = performance.now();
    let rejected = 0;
    envs.forEach((e, i) => {
      if (!cold.apply(e, { time: T0, height: 100 + i, proposer: "eag0" }).ok) rejected++;
    });
    const applyPerSecond = n / ((performance.now() - t) / 1000);

    const cache = new SignatureCache();
    const warm = registered(c, agents, cache);
    t = performance.now();
    envs.forEach((e, i) => {
      warm.validateTx(e);
      warm.apply(e, { time: T0, height: 100 + i, proposer: "eag0" });
    });
    const validateAndApplyPerSecond = n / ((performance.now() - t) / 1000);
    t = performance.now();
    const hash = warm.stateHash();
    const stateHashMs = performance.now() - t;

    // four aggregators, one process, one core: every envelope verified by each of them
    const net = new MemoryNetwork();
    const nodes = c.members.map((m, i) => {
      const node = new AggregatorNode({
        self: m.id,
        seed: m.seed,
        genesis: c.genesis,
        store: new BlockStore(join(dir, `eag${i}.db`)),
        link: net.linkFor(m.id),
        clock: () => now,
        tickMs: 60_000,
      });
      net.attach(node.host);
      return node;
    });
    for (const node of nodes) node.start();
    for (const a of agents) nodes[0].registerIdentity(a.cert);
    for (const a of agents) nodes[0].submit(a.sign("wallet.register", { wallet: a.wallet }, now));
    await until(() => nodes.every((x) => x.machine.state.agents.size >= AGENTS));
    now += 1;
    const fresh = summaries(agents, now).map((e) => ({ ...e }));
    const target = nodes[0].machine.state.seq + fresh.length;
    t = performance.now();
    fresh.forEach((e, i) => {
      nodes[i % 4].submit(e);
    });
    await until(() => nodes.every((x) => x.machine.state.seq >= target));
    const clusterSeconds = (performance.now() - t) / 1000;
    const clusterPerSecond = fresh.length / clusterSeconds;
    const sameHash = new Set(nodes.map((x) => x.stateHash())).size === 1;
    for (const node of nodes) node.stop();

    return {
      envelopes: n,
      verifyPerSecond: Math.round(verifyPerSecond),
      applyPerSecond: Math.round(applyPerSecond),
      applyRatioToVerify: Number((applyPerSecond / verifyPerSecond).toFixed(3)),
      validateAndApplyPerSecond: Math.round(validateAndApplyPerSecond),
      validateAndApplyRatioToVerify: Number((validateAndApplyPerSecond / verifyPerSecond).toFixed(3)),
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
      rejected,
      stateHashMs: Number(stateHashMs.toFixed(1)),
      stateHash: hash,
      cluster4PerSecond: Math.round(clusterPerSecond),
      // one core does the work of four replicas: the limit is a quarter of the verification rate
      cluster4RatioToLimit: Number((clusterPerSecond / (verifyPerSecond / 4)).toFixed(3)),
      cluster4SameHash: sameHash,
      loadAverage1m: Number(loadavg()[0].toFixed(2)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until(cond: () => boolean, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("bench timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await run())}\n`);
}
