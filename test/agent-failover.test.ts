/**
 * Real processes: four `gridlet aggregator`s of one consortium and a `gridlet agent` replaying a
 * recorded household log with trading on, all four aggregators in its `aggregators` list. Its home
 * is killed with SIGKILL while it trades: the agent logs "failed over", another aggregator receipts its
 * readings and orders, the home restarts and the agent goes back. At the end the outbox is empty,
 * every ledger verifies, and every envelope the agent recorded as sent was applied exactly once.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { stringify } from "#yaml";
import { readStoreCounters } from "../agent/store/agent-store.js";
import {
  ledgerHeight,
  ledgerTxs,
  makeProcessConsortium,
  reexecute,
} from "../bench/harness/process-consortium.js";
import { type Proc, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";

const INTERVAL = 2000;
const LOGS = join(process.cwd(), "hardware", "logs");
const tmp = tempDir("gridlet-agent-failover-");
after(() => tmp.cleanup());

function outboxSeqs(storePath: string): number[] {
  const db = new Database(storePath, { readonly: true });
  try {
    return db
      .prepare<[], { seq: number }>("SELECT seq FROM outbox")
      .all()
      .map((r) => r.seq);
  } finally {
    db.close();
  }
}

/** The sequence numbers of every ledger transaction the agent's trading tables record as sent. */
function sentSeqs(storePath: string): number[] {
  const db = new Database(storePath, { readonly: true });
  try {
    const q = (sql: string) =>
      db
        .prepare<[], { seq: number }>(sql)
        .all()
        .map((r) => r.seq);
    return [
      ...q("SELECT seq FROM tp_wallets"),
      ...q("SELECT seq FROM tp_orders"),
      ...q("SELECT seq FROM tp_summaries"),
      ...q("SELECT confirm_seq AS seq FROM tp_fills WHERE confirm_seq IS NOT NULL"),
      ...q("SELECT request_seq AS seq FROM tp_loans"),
    ];
  } finally {
    db.close();
  }
}

test("an agent whose home is killed -9 fails over, trades on at another aggregator, goes home, loses nothing", {
  timeout: 150_000,
}, async (t) => {
  const k = await makeProcessConsortium(tmp.dir, {
    n: 4,
    trading: { intervalMs: INTERVAL, confirmWindowMs: 2 * INTERVAL },
  });
  const ids = join(tmp.dir, "identities");
  const a = k.ca.issue({ role: "agent", id: "family", home: "eag0", wallets: 1 }, ids);
  const storePath = join(tmp.dir, "family.sqlite");
  const agentConfig = join(tmp.dir, "family.yaml");
  const url = (i: number) => k.urls[i];
  writeFileSync(
    agentConfig,
    stringify({
      version: 1,
      id: "family",
      identity: { key: a.keyPath, cert: a.certPath, ca: k.ca.certPath, revocations: k.ca.revocationsPath },
      aggregator: { id: "eag0", cert: join(ids, "eag0.cert.json") },
      aggregators: k.ids.map((id, i) => ({ id, url: url(i), cert: join(ids, `${id}.cert.json`) })),
      mqtt: {
        url: url(0),
        ...(k.tlsCa === undefined ? {} : { tls: { ca: k.tlsCa } }),
        reconnectMinMs: 200,
        reconnectMaxMs: 1000,
        receiptTimeoutMs: 4000,
        failoverAfterMs: 1000,
        homeRetryMs: 1000,
      },
      store: { path: storePath },
      intervalMs: 250,
      homeAssistant: { enabled: false },
      meters: [
        {
          id: "main",
          driver: "replay",
          file: join(LOGS, "h3-family.csv"),
          speed: (6 * 3_600_000) / INTERVAL,
          loop: true,
        },
      ],
      trading: {
        enabled: true,
        market: { intervalMs: INTERVAL, depositPct: 10, maxPriceMcPerKwh: 2000 },
        limits: { historyIntervals: 1, maxSellWh: 10_000, maxBuyWh: 10_000 },
        settleDelayMs: INTERVAL / 5,
      },
    }),
  );
  const procs: Proc[] = k.configs.map((c) => spawnGridlet(["aggregator", "--config", c]));
  let agent: Proc | undefined;
  try {
    await Promise.all(procs.map((p) => p.waitForOutput(/ledger started/, 40_000)));
    agent = spawnGridlet(["agent", "--config", agentConfig]);
    const ag = agent;
    await ag.waitForOutput(/order placed/, 40_000);

    // the home dies while the agent trades
    const seqAtKill = readStoreCounters(storePath).nextSeq;
    const killedAt = Date.now();
    procs[0].child.kill("SIGKILL");
    await procs[0].exited;
    await ag.waitForOutput(/failed over/, 20_000);
    const failedOverAt = Date.now();
    assert.match(ag.output(), /failed over.*eag0.*eag1|failed over.*"from":"eag0","to":"eag1"/s);
    // readings are receipted again: after the switch only eag1 can receipt (the home is dead) ...
    const atSwitch = readStoreCounters(storePath).lastReceiptAt ?? 0;
    await waitFor(
      "receipts from the fail-over aggregator",
      () => (readStoreCounters(storePath).lastReceiptAt ?? 0) > atSwitch,
      20_000,
      20,
    );
    t.diagnostic(
      `kill -9 to "failed over" ${failedOverAt - killedAt} ms, to the first receipt from eag1 ${Date.now() - killedAt} ms (failoverAfterMs 1000)`,
    );
    // ... and orders placed after the kill reach the ledger through it
    await waitFor(
      "an order placed after the kill in eag1's ledger",
      () =>
        ledgerTxs(k.ledgerDbs[1]).some(
          (t) => t.from === "family" && t.type === "order" && (t.seq ?? 0) >= seqAtKill,
        ),
      30_000,
      300,
    );

    // the home restarts; the agent probes it and goes back
    procs[0] = spawnGridlet(["aggregator", "--config", k.configs[0]]);
    await procs[0].waitForOutput(/ledger started/, 40_000);
    await ag.waitForOutput(/back home/, 20_000);
    const seqBackHome = readStoreCounters(storePath).nextSeq;
    await waitFor(
      "an order placed after the return in the ledger",
      () =>
        ledgerTxs(k.ledgerDbs[1]).some(
          (t) => t.from === "family" && t.type === "order" && (t.seq ?? 0) >= seqBackHome,
        ),
      30_000,
      300,
    );
    // the meter keeps ticking, so the outbox empties between ticks: seen empty, it had drained
    await waitFor("the outbox drained", () => readStoreCounters(storePath).outboxDepth === 0, 20_000, 20);
    assert.equal(await ag.stop(), 0, ag.output());
    if (process.env.GRIDLET_TEST_VERBOSE) console.error(ag.output());
    assert.equal(readStoreCounters(storePath).deadLetters, 0);

    // every receipted transaction reaches every ledger (rows of the last tick before the stop may
    // still be in the outbox: not receipted, so not checked); then the ledgers are compared and verified
    const unreceipted = new Set(outboxSeqs(storePath));
    assert.ok(unreceipted.size <= 5, `at most the last tick unreceipted: ${unreceipted.size}`);
    const sent = sentSeqs(storePath).filter((s) => !unreceipted.has(s));
    assert.ok(sent.length >= 4, `orders and summaries sent: ${sent.length}`);
    await waitFor(
      "every sent transaction in every ledger",
      () =>
        k.ledgerDbs.every((f) => {
          const have = new Set(
            ledgerTxs(f)
              .filter((t) => t.from === "family")
              .map((t) => t.seq),
          );
          return sent.every((s) => have.has(s));
        }),
      40_000,
      500,
    );
    const codes = await Promise.all(procs.map((p) => p.stop()));
    for (const [i, code] of codes.entries()) assert.equal(code, 0, procs[i].output());
    const heights = k.ledgerDbs.map((f) => ledgerHeight(f));
    const common = Math.min(...heights);
    const runs = k.ledgerDbs.map((f) => reexecute(f, k.genesisFile, common));
    assert.equal(new Set(runs.map((r) => r.stateHash)).size, 1, `one state hash at ${common} (${heights})`);
    // A transaction applied is applied once (a copy from a second aggregator is a REPLAY). One the
    // ledger refuses leaves no trace, so a copy submitted by the other aggregator is refused again
    // with the same verdict (e.g. an order receipted by the home just before its death, whose
    // interval closed before the home came back): never refused and then applied.
    let appliedCount = 0;
    for (const seq of sent) {
      const verdicts = runs[0].results.filter((r) => {
        const tx = r.tx as { from?: string; seq?: number };
        return tx.from === "family" && tx.seq === seq && r.code !== "REPLAY";
      });
      const what = `family:${seq}: ${JSON.stringify(verdicts.map((v) => v.code ?? "ok"))}`;
      assert.ok(verdicts.length >= 1, `${what} reached the ledger`);
      const ok = verdicts.filter((v) => v.ok).length;
      assert.ok(ok === 0 || (ok === 1 && verdicts.length === 1), `${what} applied at most once`);
      appliedCount += ok;
    }
    assert.ok(
      appliedCount >= 4,
      `most of what the agent sent was applied (${appliedCount} of ${sent.length})`,
    );
    const verified = await Promise.all(
      k.ledgerDbs.map((f) =>
        runGridlet(["ledger", "verify", "--db", f, "--genesis", k.genesisFile, "--json"]),
      ),
    );
    for (const r of verified) {
      assert.equal(r.code, 0, r.stderr);
    }
  } catch (e) {
    for (const [i, p] of procs.entries())
      (e as Error).message += `\n--- eag${i}:\n${p.output().split("\n").slice(-15).join("\n")}`;
    if (agent) (e as Error).message += `\n--- agent:\n${agent.output().split("\n").slice(-40).join("\n")}`;
    throw e;
  } finally {
    await agent?.stop();
    await Promise.all(procs.map((p) => p.stop()));
  }
});
