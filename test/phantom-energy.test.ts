/**
 * The phantom-energy attack of issue 11, against a real `gridlet aggregator` process: an agent signs a
 * meter summary its own signed readings do not support. Its home refuses it (SUMMARY_MISMATCH in the
 * receipt, nothing in the ledger), so the agent sells nothing it did not export and earns no
 * proof-of-flow reward; a register that runs backwards is refused (REGISTER_BACKWARDS) until the agent
 * signs a meter replacement. Then the ledger export with the readings verifies in tools/verify_ledger.py,
 * every summary rebuilt from the signed readings.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, test } from "node:test";
import { BlockStore } from "../aggregator/ledger/store.js";
import { machineForLedger } from "../aggregator/node/verify.js";
import { rewardKey } from "../aggregator/rewards/proof-of-flow.js";
import { makeProcessConsortium, RawAgent, reexecute } from "../bench/harness/process-consortium.js";
import { type Proc, REPO_ROOT, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import type { MeterSummaryBody } from "../protocol/messages/trading.js";

const INTERVAL = 3000;
const PERIOD = 2;
const tmp = tempDir();
after(() => tmp.cleanup());

/** The agent's honest summary with `addExportWh` more export claimed at the interval's last reading. */
function phantom(honest: MeterSummaryBody, addExportWh: number): MeterSummaryBody {
  const m = honest.meters[0];
  return {
    ...honest,
    exportWh: honest.exportWh + addExportWh,
    meters: [{ ...m, last: { ...m.last, exportWh: m.last.exportWh + addExportWh } }],
  };
}

test("phantom energy: a summary its readings do not show is refused; no sale, no reward", {
  timeout: 120_000,
}, async () => {
  const k = await makeProcessConsortium(tmp.dir, {
    n: 1,
    trading: {
      intervalMs: INTERVAL,
      confirmWindowMs: 2 * INTERVAL,
      rewards: { amountMc: 1_000, periodIntervals: PERIOD },
    },
  });
  const proc: Proc = spawnGridlet(["aggregator", "--config", k.configs[0]]);
  const mallory = new RawAgent(k.ca, "mallory", "eag0", tmp.dir);
  const bob = new RawAgent(k.ca, "bob", "eag0", tmp.dir);
  const url = k.urls[0];
  const refusal = async (a: RawAgent, txId: string) => {
    const seq = Number(txId.split(":")[1]);
    return waitFor(
      `the receipt of ${txId}`,
      () => a.refused.get(seq) ?? (a.unreceipted.has(seq) ? undefined : { code: "ACKED", reason: "" }),
    );
  };
  try {
    await proc.waitForOutput(/ledger started/, 30_000);
    await mallory.connect(url, "eag0");
    await bob.connect(url, "eag0");
    const regM = mallory.send("wallet.register", { wallet: mallory.wallet });
    const regB = bob.send("wallet.register", { wallet: bob.wallet });
    await waitFor("wallets", () => mallory.results.has(regM) && bob.results.has(regB), 30_000);

    // a register that runs backwards (1238.9 kWh, then 1234.1 kWh) is refused until a replacement
    const old = Math.floor(Date.now() / INTERVAL - 40) * INTERVAL;
    const body = (ts: number, importWh: number) => ({
      meter: "spare",
      ts,
      importWh,
      exportWh: 0,
      powerMilliW: 0,
    });
    mallory.send("reading", body(old, 1_238_900), old);
    const back = mallory.send("reading", body(old + 1000, 1_234_100), old + 1000);
    const r1 = await refusal(mallory, back);
    assert.equal(r1.code, "REGISTER_BACKWARDS", JSON.stringify(r1));
    assert.match(r1.reason, /meter spare: importWh 1234100 at \d+ is below 1238900/);
    mallory.send("meter.replace", { meter: "spare", ts: old + 2000, reason: "meter swapped" }, old + 2000);
    const fresh = mallory.send("reading", body(old + 2000, 12), old + 2000);
    assert.equal((await refusal(mallory, fresh)).code, "ACKED", "a new meter's registers start again");

    // mallory really exports 5 kWh in interval P, then signs 50 kWh for P+1 where its readings show 0
    const cur = Math.floor(Date.now() / INTERVAL);
    const P = cur - 3;
    mallory.meters.interval(P, INTERVAL, 0, 5_000);
    const real = mallory.send("meter.summary", mallory.meters.summary(P, INTERVAL));
    mallory.meters.interval(P + 1, INTERVAL, 0, 0);
    const fake = mallory.send("meter.summary", phantom(mallory.meters.summary(P + 1, INTERVAL), 50_000));
    await waitFor("the real summary committed", () => mallory.results.has(real), 20_000);
    assert.equal(mallory.results.get(real)?.ok, true, JSON.stringify(mallory.results.get(real)));
    const r2 = await refusal(mallory, fake);
    assert.equal(r2.code, "SUMMARY_MISMATCH", JSON.stringify(r2));
    assert.match(r2.reason, new RegExp(`interval ${P + 1}: meter m1: last reading claimed .* received`));

    // an offer backed by the real export, bought by bob
    const I = Math.max(cur + 2, Math.ceil((cur + 2) / PERIOD) * PERIOD);
    const sell = mallory.order("sell", I, 1_000, 200);
    const buy = bob.order("buy", I, 1_000, 300);
    await waitFor("both orders", () => mallory.results.has(sell) && bob.results.has(buy), 20_000);
    assert.equal(mallory.results.get(sell)?.ok, true, JSON.stringify(mallory.results.get(sell)));
    await waitFor("fills", () => mallory.fills.length > 0 && bob.fills.length > 0, 30_000);
    const trade = bob.fills[0];

    // interval I: mallory's readings show no export, it claims the kWh it sold; bob imports 1 kWh
    await waitFor("interval I over", () => Date.now() >= (I + 1) * INTERVAL + 50, 30_000);
    mallory.meters.interval(I, INTERVAL, 0, 0);
    const claim = mallory.send("meter.summary", phantom(mallory.meters.summary(I, INTERVAL), 1_000));
    bob.meters.interval(I, INTERVAL, 1_000, 0);
    const bobs = bob.send("meter.summary", bob.meters.summary(I, INTERVAL));
    const conf = bob.send("delivery.confirm", { tradeId: trade.tradeId, receivedWh: 1_000 });
    assert.equal((await refusal(mallory, claim)).code, "SUMMARY_MISMATCH");
    await waitFor(
      "bob's summary and confirmation",
      () => bob.results.has(bobs) && bob.results.has(conf),
      20_000,
    );
    assert.equal(bob.results.get(bobs)?.ok, true, JSON.stringify(bob.results.get(bobs)));

    // settlement and the reward period of I pass; then the ledger is read back
    const period = Math.floor(I / PERIOD);
    const rewardDue = (period + 1) * PERIOD * INTERVAL + 2 * INTERVAL;
    await waitFor("the reward period closed", () => Date.now() > rewardDue + 3000, 40_000);
    await mallory.close();
    await bob.close();
    assert.equal(await proc.stop(), 0, proc.output());

    const store = new BlockStore(k.ledgerDbs[0], { readonly: true });
    const machine = machineForLedger(store, k.genesisFile);
    const txs = store.list(0, Number.MAX_SAFE_INTEGER);
    for (const e of txs)
      for (const tx of e.block.txs)
        machine.apply(tx, { time: e.block.header.time, height: e.seq, proposer: e.block.header.proposer });
    store.close();
    const s = machine.state;
    const summaries = txs
      .flatMap((e) => e.block.txs as { type: string; from: string; seq: number }[])
      .filter((t) => t.type === "meter.summary");
    assert.deepEqual(
      summaries.map((t) => `${t.from}:${t.seq}`).sort(),
      [real, bobs].sort(),
      "only the proven summaries reached the ledger",
    );
    assert.equal(s.meter.get("mallory")?.get(I), undefined, "no export recorded for mallory in I");
    // proof-of-flow counts settled deliveries only: mallory delivered nothing, nobody is rewarded
    assert.equal(s.flow.get(period)?.get("mallory"), undefined, "no delivery tallied for mallory");
    assert.ok(!s.rewardsPaid.has(rewardKey(period, "eag0")), "no reward for the period");
    const sys = txs.flatMap((e) => e.block.txs as { type: string; body: { type?: string } }[]);
    assert.ok(!sys.some((t) => t.type === "sys" && t.body.type === "reward-period"), "no reward transaction");
    const deposit = mallory.fills[0].depositMc;
    assert.equal(
      s.wallets.get(mallory.wallet)?.balance,
      20_000 - deposit,
      "no sale, no reward; deposit forfeited",
    );
    assert.equal(s.wallets.get(bob.wallet)?.balance, 20_000 + deposit, "bob paid nothing, got the deposit");
    assert.equal(s.supply, 40_000 + 1_000_000, "no coin minted: allocations and the bank's funds only");
    assert.equal(reexecute(k.ledgerDbs[0], k.genesisFile, txs.length).stateHash, machine.stateHash());

    // the auditor: ledger and readings export, checked from the CA in both verifiers
    const file = join(tmp.dir, "audit.jsonl");
    const ex = await runGridlet([
      "ledger",
      "export",
      "--db",
      k.ledgerDbs[0],
      "--readings",
      join(tmp.dir, "eag0.sqlite"),
      "--out",
      file,
    ]);
    assert.equal(ex.code, 0, ex.stderr);
    const ts = await runGridlet(["ledger", "verify", "--export", file, "--ca", k.ca.certPath, "--json"]);
    assert.equal(ts.code, 0, ts.stderr);
    assert.equal(JSON.parse(ts.stdout).evidence.provenExportWh, 5_000);
    const py = spawnSync(
      "python3",
      ["-B", join(REPO_ROOT, "tools", "verify_ledger.py"), "--ca", k.ca.certPath, file, "--json"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(py.status, 0, py.stdout + py.stderr);
    const report = JSON.parse(py.stdout);
    assert.equal(report.summariesChecked, 2);
    assert.equal(report.provenExportWh, 5_000);
    assert.equal(report.provenImportWh, 1_000);
  } catch (e) {
    (e as Error).message += `\n--- eag0:\n${proc.output().split("\n").slice(-30).join("\n")}`;
    throw e;
  } finally {
    await mallory.close();
    await bob.close();
    await proc.stop();
  }
});
