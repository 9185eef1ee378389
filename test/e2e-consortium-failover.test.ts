import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  ledgerHeight,
  makeProcessConsortium,
  RawAgent,
  reexecute,
} from "../bench/harness/process-consortium.js";
import { type Proc, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";

/**
 * An aggregator without quorum receipts an envelope, is killed with SIGKILL, and after the restart
 * submits it from its durable outbox (the agent never resends what was receipted). Then f = 1 of 4:
 * one aggregator process is killed with SIGKILL while its agent is trading. The other three
 * commit on; the agent fails over to another aggregator, which verifies its envelopes, submits them and
 * answers it. The killed one restarts from its SQLite files, resubmits what it had receipted and catches
 * up; every ledger verifies, all agree, and each envelope the agent sent is applied exactly once.
 *
 * What the ledger does after such a fail-over (delivery, settlement, credit) is asserted for many seeds
 * on the simulator (test/ledger-sim.test.ts); this test keeps what only processes show.
 */
const INTERVAL = 2000;
/** wall-clock time the kill, the fail-over and the restart below take, with room for a loaded machine */
const RESTART_ROOM_MS = 8000;
const tmp = tempDir();
after(() => tmp.cleanup());

test("an aggregator killed -9 during trading: the others go on, its agent fails over, it catches up", {
  timeout: 150_000,
}, async () => {
  const k = await makeProcessConsortium(tmp.dir, {
    n: 4,
    trading: { intervalMs: INTERVAL, confirmWindowMs: 2 * INTERVAL },
  });
  const alice = new RawAgent(k.ca, "alice", "eag0", tmp.dir);
  const dave = new RawAgent(k.ca, "dave", "eag3", tmp.dir);
  const url = (i: number) => k.urls[i];
  // eag3 alone first: no quorum, so it receipts dave's registration without committing it, and dies
  const lone = spawnGridlet(["aggregator", "--config", k.configs[3]]);
  const procs: Proc[] = [lone];
  try {
    await lone.waitForOutput(/ledger started/, 30_000);
    await dave.connect(url(3), "eag3");
    dave.send("wallet.register", { wallet: dave.wallet });
    await waitFor("receipt from the lone eag3", () => dave.unreceipted.size === 0);
    lone.child.kill("SIGKILL");
    await lone.exited;
    await dave.close();
    // the consortium starts; eag3 submits what its outbox kept, which dave will never resend
    procs.splice(0, 1, ...k.configs.map((c) => spawnGridlet(["aggregator", "--config", c])));
    await Promise.all(procs.map((p) => p.waitForOutput(/ledger started/, 30_000)));
    await alice.connect(url(0), "eag0");
    await dave.connect(url(3), "eag3");
    alice.send("wallet.register", { wallet: alice.wallet });
    await waitFor(
      "allocations",
      () => [alice, dave].every((a) => a.lastView?.wallets[0]?.balanceMc === 20_000),
      30_000,
    );

    // dave offers at his home, which is killed at once: what it receipted is in its outbox only
    const cur = Math.floor(Date.now() / INTERVAL);
    const I = Math.floor((Date.now() + RESTART_ROOM_MS) / INTERVAL) + 1; // the restart comes before I starts
    dave.meters.interval(cur - 1, INTERVAL, 0, 5_000);
    dave.send("meter.summary", dave.meters.summary(cur - 1, INTERVAL));
    const sell = dave.order("sell", I, 1_000, 200);
    procs[3].child.kill("SIGKILL");
    await procs[3].exited;
    const buy = alice.order("buy", I, 1_000, 300);
    await waitFor("alice's bid committed without eag3", () => alice.results.get(buy)?.ok === true, 20_000);

    // dave fails over to eag2 and resends what eag3 never receipted; he keeps trading there
    await dave.connect(url(2), "eag2");
    const cancelProbe = dave.send("order.cancel", { orderId: "no-such-order" });
    await waitFor("eag2 answers dave", () => dave.results.has(cancelProbe), 20_000);
    assert.equal(dave.results.get(cancelProbe)?.ok, false, "the ledger's verdict reaches the guest");

    // eag3 restarts from its files (during the interval or just after) and resubmits its outbox
    procs[3] = spawnGridlet(["aggregator", "--config", k.configs[3]]);
    await procs[3].waitForOutput(/ledger started/, 30_000);
    await waitFor(
      "dave's offer in the ledger",
      () => dave.results.has(sell) || dave.fills.length > 0,
      30_000,
    );
    await waitFor("fills for both", () => alice.fills.length > 0 && dave.fills.length > 0, 30_000);
    assert.equal(dave.fills[0].side, "sell");
    assert.equal(dave.fills[0].tradeId, alice.fills[0].tradeId);
    // the fail-over aggregator serves its guest: the fill and an account view showing the trade reach
    // dave at eag2 (delivery and settlement after a fail-over: test/ledger-sim.test.ts)
    await waitFor("dave's account view with the trade, from eag2", () =>
      dave.lastView?.openTrades.some((t) => t.id === dave.fills[0].tradeId),
    );
    assert.ok(dave.downFrom.has("eag2"), "the fail-over aggregator signs dave's downlink");
    await waitFor("nothing unreceipted", () => dave.unreceipted.size === 0 && alice.unreceipted.size === 0);

    // the restarted aggregator caught up
    await waitFor(
      "eag3 at the others' height",
      () => ledgerHeight(k.ledgerDbs[3]) >= ledgerHeight(k.ledgerDbs[0]) - 1,
      30_000,
    );
    await alice.close();
    await dave.close();
    const codes = await Promise.all(procs.map((p) => p.stop()));
    for (const [i, code] of codes.entries()) assert.equal(code, 0, procs[i].output());
    const heights = k.ledgerDbs.map((f) => ledgerHeight(f));
    const common = Math.min(...heights);
    const runs = k.ledgerDbs.map((f) => reexecute(f, k.genesisFile, common));
    assert.equal(
      new Set(runs.map((r) => r.stateHash)).size,
      1,
      `one state hash at height ${common} (${heights})`,
    );
    const verified = await Promise.all(
      k.ledgerDbs.map((f) =>
        runGridlet(["ledger", "verify", "--db", f, "--genesis", k.genesisFile, "--json"]),
      ),
    );
    for (const r of verified) {
      assert.equal(r.code, 0, r.stderr);
    }
    // dave lost nothing: each of his envelopes is applied exactly once (the probe is refused once)
    for (const env of dave.sent.filter((e) => e.type !== "reading")) {
      const mine = runs[0].results.filter((r) => {
        const tx = r.tx as { from?: string; seq?: number };
        return tx.from === env.from && tx.seq === env.seq && r.code !== "REPLAY";
      });
      assert.equal(mine.length, 1, `${env.from}:${env.seq} (${env.type}) executed once`);
      assert.equal(mine[0].ok, env.type !== "order.cancel", `${env.type} ${JSON.stringify(mine[0])}`);
    }
  } catch (e) {
    // the processes' last words explain most failures
    for (const [i, p] of procs.entries())
      (e as Error).message += `\n--- eag${i}:\n${p.output().split("\n").slice(-20).join("\n")}`;
    throw e;
  } finally {
    await alice.close();
    await dave.close();
    await Promise.all(procs.map((p) => p.stop()));
  }
});
