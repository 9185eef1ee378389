import { join } from "node:path";
import { MemoryNetwork } from "../../aggregator/consensus/transport/memory.js";
import { CreditBankService } from "../../aggregator/credit/service.js";
import { readingsHandler } from "../../aggregator/ingest/readings.js";
import { type Accepted, AggregatorStore } from "../../aggregator/ingest/store.js";
import { BlockStore } from "../../aggregator/ledger/store.js";
import { AggregatorNode } from "../../aggregator/node/node.js";
import type { Envelope } from "../../protocol/envelope.js";
import type { MeterSummaryBody } from "../../protocol/messages/trading.js";
import { seededRandom } from "./credit-world.js";
import { makeConsortium, TestAgent, type TestConsortium } from "./node-consortium.js";

/**
 * A demo-like ledger for audit tests, written by four AggregatorNodes in one process (MemoryNetwork,
 * SQLite block stores, real ed25519 and a real CA directory): two agents register, get their
 * allocation, report metered energy, trade one interval, confirm and settle, with checkpoints every two
 * rounds. The nodes record the CA-signed consortium and genesis files in their stores, as the
 * aggregator process does.
 */
export interface AuditLedger {
  c: TestConsortium;
  dbs: string[];
  /** the aggregators' ingest stores, holding their agents' signed readings */
  stores: string[];
  caCertFile: string;
  agents: TestAgent[];
}

const INTERVAL = 60_000;

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function buildAuditLedger(dir: string): Promise<AuditLedger> {
  let now = 1_800_000_000_000 + 1_000;
  const c = makeConsortium(dir, {
    n: 4,
    now: () => now,
    label: "audit",
    trading: { intervalMs: INTERVAL, confirmWindowMs: INTERVAL },
  });
  const net = new MemoryNetwork();
  const stores = c.members.map((m) => new BlockStore(join(dir, `${m.id}.db`)));
  const nodes = c.members.map(
    (m, i) =>
      new AggregatorNode({
        self: m.id,
        seed: m.seed,
        genesis: c.genesis,
        store: stores[i],
        consortiumFile: c.consortiumFile,
        link: net.linkFor(m.id),
        consensus: { slotTimeoutMs: 400, checkpointInterval: 2 },
        bank: i === 0 ? new CreditBankService(c.bankKeys, seededRandom("bank")) : undefined,
        clock: () => now,
        tickMs: 50,
        fallbackMs: 5_000,
      }),
  );
  const state = (i: number) => nodes[i].machine.state;
  // the aggregators' ingest stores, where their agents' signed readings are kept (as `gridlet aggregator`)
  const homes = c.members.map((m) => {
    const store = new AggregatorStore(join(dir, `${m.id}.sqlite`), m.id, () => 1);
    return { store, handler: readingsHandler(store.db, 30 * 86_400_000) };
  });
  const ingestAt = (home: number, envs: Envelope[]) => {
    const h = homes[home];
    const batch = envs.map((env) => ({
      env,
      raw: JSON.stringify(env),
      body: env.body,
      store: h.handler.store as Accepted["store"],
    }));
    h.store.commit(batch, new Map(), now);
  };
  try {
    for (const n of nodes) {
      net.attach(n.host);
      n.start();
    }
    const alice = new TestAgent(c, "alice", "eag0", dir);
    const sam = new TestAgent(c, "sam", "eag1", dir);
    nodes[0].registerIdentity(alice.cert);
    nodes[1].registerIdentity(sam.cert);
    await until("identities", () =>
      nodes.every((n) => ["alice", "sam"].every((a) => n.machine.registry.agent(a) !== undefined)),
    );
    nodes[0].submit(alice.sign("wallet.register", { wallet: alice.wallet }, now));
    nodes[1].submit(sam.sign("wallet.register", { wallet: sam.wallet }, now));
    await until("allocations", () =>
      nodes.every((_, i) => [alice, sam].every((a) => state(i).wallets.get(a.wallet)?.balance === 20_000)),
    );
    const cur = Math.floor(now / INTERVAL);
    const I = cur + 1;
    // each home ingests its agent's signed readings and checks a summary against them before submitting
    const metered = (agent: TestAgent, home: number, interval: number, imp: number, exp: number) => {
      ingestAt(home, agent.meters.interval(interval, INTERVAL, imp, exp));
      const env = agent.sign("meter.summary", agent.meters.summary(interval, INTERVAL), now);
      homes[home].handler.evidence.checkSummary(agent.id, env.body as MeterSummaryBody, INTERVAL);
      nodes[home].submit(env);
    };
    metered(sam, 1, cur - 1, 0, 5_000);
    nodes[1].submit(sam.order("sell", I, 1_000, 200, now));
    nodes[0].submit(alice.order("buy", I, 1_000, 300, now));
    await until("both orders", () => nodes.every((_, i) => state(i).orders.size === 2));
    now = I * INTERVAL + 5;
    await until("clearing", () => nodes.every((_, i) => state(i).trades.size === 1));
    const tradeId = [...state(0).trades.keys()][0];
    now = (I + 1) * INTERVAL + 5;
    metered(sam, 1, I, 0, 1_000);
    metered(alice, 0, I, 1_000, 0);
    nodes[0].submit(alice.sign("delivery.confirm", { tradeId, receivedWh: 1_000 }, now));
    await until("confirmation", () =>
      nodes.every((_, i) => state(i).trades.get(tradeId)?.confirmedWh === 1_000),
    );
    now = (I + 2) * INTERVAL + 5;
    await until("settlement", () => nodes.every((_, i) => state(i).trades.size === 0));
    await until("one height and state everywhere, a stable checkpoint stored", () => {
      const h = nodes.map((n) => n.height);
      const s = nodes.map((n) => n.stateHash());
      return h.every((x) => x === h[0]) && s.every((x) => x === s[0]) && stores[0].checkpoints().length > 0;
    });
    return {
      c,
      stores: c.members.map((m) => join(dir, `${m.id}.sqlite`)),
      dbs: stores.map((_, i) => join(dir, `${c.members[i].id}.db`)),
      caCertFile: c.ca.certPath,
      agents: [alice, sam],
    };
  } finally {
    for (const n of nodes) n.stop();
    for (const s of stores) s.close();
    for (const h of homes) h.store.close();
  }
}
