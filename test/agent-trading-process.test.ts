/**
 * Real processes: one `gridlet aggregator` (single-member consortium, embedded Aedes, SQLite ledger)
 * and two `gridlet agent`s replaying recorded household logs (hardware/logs) with trading on: a PV
 * household and a family without PV. Intervals are 2 s of wall clock and the replay runs 14 400 times
 * faster, so one interval carries 8 hours of recorded energy. The test watches orders, fills and
 * settlement arrive, reads `gridlet agent status`, kills the buyer with SIGKILL while it trades,
 * restarts it and checks from the ledger that nothing it sent was lost or entered twice.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { stringify } from "#yaml";
import { readTradingStatus } from "../agent/participant/status.js";
import { readStoreCounters } from "../agent/store/agent-store.js";
import { signConsortium } from "../aggregator/consensus/consortium.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { createGenesis, writeGenesisFile } from "../aggregator/node/genesis.js";
import { freePort } from "../bench/harness/net.js";
import { runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { CaDirectory } from "../protocol/ca-dir.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { readKeyFile } from "../protocol/keyfile.js";

const INTERVAL = 2000;
/** log seconds per wall-clock second: 8 hours of recorded energy per interval */
const SPEED = (8 * 3_600_000) / INTERVAL;
const LOGS = join(process.cwd(), "hardware", "logs");
const { dir, cleanup } = tempDir("gridlet-trading-proc-");
after(cleanup);

interface LedgerTx {
  type?: string;
  from?: string;
  seq?: number;
  body?: { interval?: number };
}

function ledgerTxs(file: string): LedgerTx[] {
  const store = new BlockStore(file, { readonly: true });
  try {
    const out: LedgerTx[] = [];
    const n = store.head().nextSeq;
    for (let from = 0; from < n; from += 500)
      for (const e of store.list(from, 500)) for (const tx of e.block.txs) out.push(tx as LedgerTx);
    return out;
  } finally {
    store.close();
  }
}

function tradingRows(storePath: string, sql: string): { seq: number; interval: number }[] {
  const db = new Database(storePath, { readonly: true });
  try {
    return db.prepare<[], { seq: number; interval: number }>(sql).all();
  } finally {
    db.close();
  }
}

/**
 * A recorded household log that starts at `hour` of its first day rather than at midnight, so that a
 * PV household's first full interval is sunny and it sells (and earns) without waiting out the night.
 */
function logFrom(dir: string, log: string, hour: number): string {
  const lines = readFileSync(join(LOGS, log), "utf8").split("\n");
  const from = `T${String(hour).padStart(2, "0")}:00`;
  const first = lines.findIndex((l) => l.includes(from));
  const header = lines.findIndex((l) => l.startsWith("timestamp,"));
  const path = join(dir, `from-${hour}h-${log}`);
  writeFileSync(path, [...lines.slice(0, header + 1), ...lines.slice(first)].join("\n"));
  return path;
}

interface SiteOptions {
  genesisTrading?: Record<string, unknown>;
  credit?: Record<string, unknown>;
}

/** A CA, a one-member consortium and its genesis, the aggregator's configuration, and agent configurations. */
async function makeSite(dir: string, o: SiteOptions = {}) {
  mkdirSync(dir, { recursive: true });
  const ca = new CaDirectory(join(dir, "ca"));
  ca.init("test-ca");
  const out = join(dir, "identities");
  const agg = ca.issue({ role: "aggregator", id: "eag0" }, out);
  const port = await freePort();
  const members = [{ id: "eag0", publicKey: agg.cert.publicKey, broker: `mqtt://127.0.0.1:${port}` }];
  const consortiumFile = join(dir, "consortium.json");
  const caSeed = readKeyFile(ca.keyPath).seed;
  writeFileSync(
    consortiumFile,
    JSON.stringify(
      signConsortium({ v: 1, name: "solo", issued: Date.now(), members }, caSeed, defaultEd25519),
    ),
  );
  const genesisFile = join(dir, "genesis.json");
  writeGenesisFile(
    genesisFile,
    createGenesis(ca, {
      consortium: { name: "solo", members },
      issued: Date.now() - 60_000,
      trading: { intervalMs: INTERVAL, confirmWindowMs: INTERVAL / 2, ...o.genesisTrading },
      credit: o.credit ?? {},
      banks: { eag0: { publicKey: agg.cert.publicKey, wallet: "bank-eag0-wallet", fundsMc: 1_000_000 } },
    }),
  );
  const ledgerDb = join(dir, "eag0.ledger.db");
  const aggConfig = join(dir, "eag0.yaml");
  writeFileSync(
    aggConfig,
    stringify({
      version: 1,
      id: "eag0",
      identity: { key: agg.keyPath, cert: agg.certPath, ca: ca.certPath, revocations: ca.revocationsPath },
      broker: { embedded: { host: "127.0.0.1", port } },
      store: { path: join(dir, "eag0.sqlite") },
      trust: { certDir: join(dir, "ca", "certs") },
      consortium: { file: consortiumFile, ledgerDb, resubmitMs: 3000, announceLeadMs: INTERVAL / 4 },
      genesis: { file: genesisFile },
      consensus: { slotTimeoutMs: 1500, checkpointInterval: 4 },
    }),
  );
  /** `log`: a file of hardware/logs, or a path */
  const agentConfig = (id: string, log: string, trading: Record<string, unknown> = {}) => {
    const a = ca.issue({ role: "agent", id, home: "eag0", wallets: 1 }, out);
    const path = join(dir, `${id}.yaml`);
    writeFileSync(
      path,
      stringify({
        version: 1,
        id,
        identity: { key: a.keyPath, cert: a.certPath, ca: ca.certPath, revocations: ca.revocationsPath },
        aggregator: { id: "eag0", cert: agg.certPath },
        mqtt: {
          url: `mqtt://127.0.0.1:${port}`,
          reconnectMinMs: 200,
          reconnectMaxMs: 1000,
          receiptTimeoutMs: 5000,
        },
        store: { path: join(dir, `${id}.sqlite`) },
        intervalMs: 250,
        homeAssistant: { enabled: false },
        meters: [{ id: "main", driver: "replay", file: resolve(LOGS, log), speed: SPEED, loop: true }],
        trading: {
          enabled: true,
          market: { intervalMs: INTERVAL, depositPct: 10, maxPriceMcPerKwh: 2000 },
          limits: { historyIntervals: 1, maxSellWh: 10_000, maxBuyWh: 10_000 },
          settleDelayMs: INTERVAL / 5,
          ...trading,
        },
      }),
    );
    return { path, store: join(dir, `${id}.sqlite`) };
  };
  return { aggConfig, ledgerDb, agentConfig };
}

// The two sites are independent and mostly wait on wall-clock intervals: they run side by side.
describe("trading agents as processes", { concurrency: 2 }, () => {
  test("agents trade over accelerated intervals; a SIGKILLed agent loses and doubles nothing", {
    timeout: 180_000,
  }, async (t) => {
    const { aggConfig, ledgerDb, agentConfig } = await makeSite(join(dir, "trade"));
    const seller = agentConfig("pv-couple", logFrom(dir, "h2-pv-couple.csv", 6));
    const buyer = agentConfig("family", "h3-family.csv");

    const aggregator = spawnGridlet(["aggregator", "--config", aggConfig]);
    t.after(() => aggregator.stop());
    await aggregator.waitForOutput(/aggregator started/);
    const sellerProc = spawnGridlet(["agent", "--config", seller.path]);
    t.after(() => sellerProc.stop());
    let buyerProc = spawnGridlet(["agent", "--config", buyer.path]);
    t.after(() => buyerProc.stop());

    // The buyer orders every interval; kill it as soon as its first order is on its way.
    await buyerProc.waitForOutput(/order placed/, 30_000);
    buyerProc.child.kill("SIGKILL");
    await buyerProc.exited;
    buyerProc = spawnGridlet(["agent", "--config", buyer.path]);

    // The PV household (its log starting at 06:00) sells in its first sunny interval; the family buys it.
    await sellerProc.waitForOutput(/order placed .*side=sell|"side":"sell"/, 90_000);
    const fillLine = /fill .*tradeId|"msg":"fill"/;
    await buyerProc.waitForOutput(fillLine, 60_000);
    await sellerProc.waitForOutput(fillLine, 30_000);
    await buyerProc.waitForOutput(/delivery confirmed/, 30_000);

    // Settlement: the buyer's trade leaves its open trades and its balance shows the payment (read from
    // its store while it runs; `gridlet agent status` below prints the same).
    await waitFor(
      "settlement in the buyer's account view",
      () => {
        const t = readTradingStatus(buyer.store);
        return (
          t !== null && t.fills.length > 0 && t.openTrades.length === 0 && (t.balanceMc ?? 20_000) < 20_000
        );
      },
      60_000,
    );
    const [status, sellerStatus] = (
      await Promise.all([buyer, seller].map((a) => runGridlet(["agent", "status", "--config", a.path])))
    ).map((r) => {
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    });
    if (process.env.GRIDLET_TEST_VERBOSE) console.error(JSON.stringify({ status, sellerStatus }, null, 1));
    assert.equal(status.id, "family");
    // trading goes on meanwhile: new trades may have opened since the settlement seen above
    assert.ok(status.trading.fills.length > 0);
    assert.ok(status.readingsStored > 0);
    assert.equal(typeof status.trading.reputation.active, "number");
    assert.ok(status.trading.confirmationsSent >= 1);
    assert.ok(sellerStatus.trading.fills.some((f: { side: string }) => f.side === "sell"));
    assert.notEqual(sellerStatus.trading.balanceMc, null);

    // Nothing lost: every order and summary the agents recorded as sent reaches the ledger;
    // nothing doubled: no (sender, seq) twice, no two orders of one agent for one interval.
    await waitFor(
      "outboxes drained",
      () =>
        readStoreCounters(buyer.store).outboxDepth === 0 && readStoreCounters(seller.store).outboxDepth === 0,
      30_000,
    );
    const txs = await waitFor(
      "every recorded order and summary in the ledger",
      () => {
        const all = ledgerTxs(ledgerDb);
        const keys = new Set(all.map((t) => `${t.from}:${t.seq}`));
        for (const a of [buyer, seller]) {
          const id = a === buyer ? "family" : "pv-couple";
          const sent = [
            ...tradingRows(a.store, "SELECT seq, interval FROM tp_orders"),
            ...tradingRows(a.store, "SELECT seq, interval FROM tp_summaries"),
          ];
          if (sent.some((r) => !keys.has(`${id}:${r.seq}`))) return false;
        }
        return all;
      },
      30_000,
      500,
    );
    const agentTxs = txs.filter((t) => t.from === "family" || t.from === "pv-couple");
    const keys = agentTxs.map((t) => `${t.from}:${t.seq}`);
    assert.equal(new Set(keys).size, keys.length, "an agent envelope entered the ledger twice");
    const orders = agentTxs.filter((t) => t.type === "order").map((t) => `${t.from}:${t.body?.interval}`);
    assert.equal(new Set(orders).size, orders.length, "two orders of one agent for one interval");
    assert.ok(orders.filter((o) => o.startsWith("family:")).length >= 2);
    assert.ok(agentTxs.some((t) => t.type === "delivery.confirm" && t.from === "family"));
    assert.ok(agentTxs.some((t) => t.type === "meter.summary" && t.from === "pv-couple"));
  });

  test("a PV household short of coins at night borrows from the bank and spends the token on its bids", {
    timeout: 180_000,
  }, async (t) => {
    // Few coins each, so that the evening's buy cannot be paid; sell offers small enough for their deposit.
    const { aggConfig, ledgerDb, agentConfig } = await makeSite(join(dir, "credit"), {
      genesisTrading: { initialAllocationMc: 1000 },
      credit: { eligibility: { incomePeriodDays: 1, incomePeriods: 1, minIncomePeriods: 1 } },
    });
    const borrower = agentConfig("pv-family", logFrom(dir, "h1-pv-family.csv", 6), {
      limits: { historyIntervals: 1, maxSellWh: 2000, maxBuyWh: 10_000 },
      // it bids far above the reference price, so that every buy it wants exceeds its coins
      price: { buyMarkupPct: 400 },
      credit: { enabled: true, retryIntervals: 1 },
    });
    const family = agentConfig("family", "h3-family.csv", {
      limits: { historyIntervals: 1, maxSellWh: 2000, maxBuyWh: 10_000 },
    });
    const aggregator = spawnGridlet(["aggregator", "--config", aggConfig]);
    t.after(() => aggregator.stop());
    await aggregator.waitForOutput(/aggregator started/);
    const b = spawnGridlet(["agent", "--config", borrower.path]);
    t.after(() => b.stop());
    const f = spawnGridlet(["agent", "--config", family.path]);
    t.after(() => f.stop());

    await b.waitForOutput(/credit requested/, 90_000);
    await b.waitForOutput(/credit granted/, 90_000);
    await b.waitForOutput(/credit token spent/, 30_000);
    // The bank paid the bill: a credit.pay into the borrower's own wallet is in the ledger.
    const pay = await waitFor(
      "credit.pay in the ledger",
      () =>
        ledgerTxs(ledgerDb).find((t) => {
          const tx = (t as { body?: { type?: string; body?: { bill?: { seller?: string } } } }).body;
          return t.type === "sys" && tx?.type === "credit.pay" && tx.body?.bill?.seller === "pv-family";
        }) ?? false,
      30_000,
      500,
    );
    assert.ok(pay);
    await waitFor(
      "the loan in the borrower's store",
      () => ["paid", "closed"].includes(readTradingStatus(borrower.store)?.loan?.status ?? ""),
      30_000,
    );
    // Short of coins again at its next bid, the borrower asks for a new loan, and `agent status` shows the
    // latest one: a command run a moment after the wait above found {"status":"requested"} once (a fresh
    // clone's full run). Every loan passes through paid, so ask until the command shows one.
    const s = await waitFor(
      "`gridlet agent status` showing a paid loan",
      async () => {
        const r = await runGridlet(["agent", "status", "--config", borrower.path]);
        assert.equal(r.code, 0, r.stderr);
        const st = JSON.parse(r.stdout) as {
          trading: { loan: { status?: string; amountMc?: number } | null };
        };
        return ["paid", "closed"].includes(st.trading.loan?.status ?? "") ? st : false;
      },
      60_000,
    );
    assert.ok((s.trading.loan?.amountMc ?? 0) > 0, JSON.stringify(s.trading.loan));
    assert.ok(ledgerTxs(ledgerDb).some((t) => t.type === "credit.request" && t.from === "pv-family"));
  });
});
