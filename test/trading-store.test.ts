import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Genesis } from "../aggregator/state/core.js";
import { RecoveryError, recoverSequencer, Sequencer } from "../aggregator/state/sequencer.js";
import { TradingStore } from "../aggregator/state/store.js";
import { createTradingCore } from "../aggregator/state/trading.js";
import { orderBody, txs } from "../aggregator/state/txs.js";

// The ledger in SQLite: a restart (clean or kill -9) rebuilds exactly the state the log describes.
const AUTH = "agg-1";
const GENESIS: Genesis = { authorities: [AUTH], config: { rewards: { amountMc: 500, periodIntervals: 4 } } };
const IMS = 900_000;
const N = 4;

function submitOk(s: Sequencer, tx: ReturnType<typeof txs.mint>, time: number, onAck?: () => void): void {
  s.submit(tx, time);
  onAck?.();
}

function setupAgents(s: Sequencer, onAck?: () => void): void {
  const t = 6 * IMS;
  for (let i = 0; i < N; i++) {
    for (const role of ["s", "b"]) {
      const a = `${role}${i}`;
      submitOk(s, txs.registerWallet(`${a}:reg`, a, `w-${a}-wallet`), t, onAck);
      submitOk(s, txs.allocate(`${a}:alloc`, AUTH, `w-${a}-wallet`), t, onAck);
    }
    for (let k = 2; k < 6; k++) submitOk(s, txs.meterSummary(`s${i}:m${k}`, `s${i}`, k, 0, 3000), t, onAck);
  }
}

/** One delivery interval: orders, clearing, metering, confirmations, settlement (and rewards). */
function runInterval(s: Sequencer, k: number, onAck?: () => void): void {
  const start = k * IMS;
  for (let i = 0; i < N; i++) {
    const price = 200 + ((k * 7 + i * 13) % 100);
    submitOk(
      s,
      txs.placeOrder(
        `b${i}:${k}:o`,
        `b${i}`,
        orderBody(`w-b${i}-wallet`, "buy", k, 1000 + i * 100, price + 50),
      ),
      start - 1000,
      onAck,
    );
    submitOk(
      s,
      txs.placeOrder(`s${i}:${k}:o`, `s${i}`, orderBody(`w-s${i}-wallet`, "sell", k, 900 + i * 50, price)),
      start - 500,
      onAck,
    );
  }
  s.tick(start);
  onAck?.();
  const end = start + IMS;
  for (let i = 0; i < N; i++) {
    submitOk(s, txs.meterSummary(`s${i}:m${k}`, `s${i}`, k, 0, i === 0 ? 400 : 3000), end, onAck);
    submitOk(s, txs.meterSummary(`b${i}:m${k}`, `b${i}`, k, 2000, 0), end, onAck);
  }
  const trades = [...s.core.state.trades.values()]
    .filter((t) => t.interval === k)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  trades.forEach((t, n) => {
    // every third trade is left unconfirmed: the buyer-refused path
    if (n % 3 !== 2) submitOk(s, txs.confirm(`${t.id}:c`, t.buyer, t.id, t.energyWh), end + 10, onAck);
  });
  s.tick(end + IMS + 1);
  onAck?.();
}

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-ledger-"));
  dirs.push(dir);
  return join(dir, "ledger.sqlite");
}

function replayFromGenesis(path: string): { hash: string; seq: number } {
  const store = TradingStore.open(path);
  const core = createTradingCore(GENESIS);
  let seq = 0;
  for (const e of store.entries(0)) {
    const r = core.apply(e.tx, e.ctx);
    assert.equal(r.ok ? null : r.code, e.code, `entry ${e.seq} replays with its recorded result`);
    seq = e.seq;
  }
  store.close();
  return { hash: core.stateHash(), seq };
}

if (process.env.TRADING_STORE_CHILD) {
  // child mode: write the ledger until killed, acknowledging each durable entry on stdout
  const store = TradingStore.open(process.env.TRADING_STORE_CHILD);
  const s = recoverSequencer(store, GENESIS, { proposer: AUTH, snapshotEvery: 37 });
  // stdout on a pipe is synchronous on Linux, so each line is out before the next entry is written
  const ack = () => process.stdout.write(`ack ${s.lastSeq}\n`);
  setupAgents(s, ack);
  for (let k = 10; ; k++) runInterval(s, k, ack);
} else {
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe("trading ledger persistence", () => {
    for (const snapshotEvery of [0, 40]) {
      it(`a restart rebuilds the same state (snapshot every ${snapshotEvery || "never"})`, () => {
        const path = tempDb();
        const store = TradingStore.open(path);
        const live = recoverSequencer(store, GENESIS, { proposer: AUTH, snapshotEvery });
        setupAgents(live);
        for (let k = 10; k < 16; k++) runInterval(live, k);
        assert.ok(live.core.state.supply > 8 * 20_000, "rewards were minted");
        const hash = live.core.stateHash();
        store.close();
        if (snapshotEvery) assert.ok(TradingStore.open(path).latestSnapshot(), "snapshots were written");

        const store2 = TradingStore.open(path);
        const again = recoverSequencer(store2, GENESIS, { proposer: AUTH, snapshotEvery });
        assert.equal(again.core.stateHash(), hash);
        assert.equal(again.lastSeq, live.lastSeq);
        // and it carries on exactly as the original would have
        const original = new Sequencer(
          live.core,
          { proposer: AUTH },
          { seq: live.lastSeq, height: live.lastHeight },
        );
        runInterval(again, 16);
        runInterval(original, 16);
        assert.equal(again.core.stateHash(), original.core.stateHash());
        store2.close();
        assert.equal(replayFromGenesis(path).hash, again.core.stateHash());
      });
    }

    it("refuses a store written under a different genesis", () => {
      const path = tempDb();
      const store = TradingStore.open(path);
      recoverSequencer(store, GENESIS, { proposer: AUTH });
      assert.throws(
        () => recoverSequencer(store, { ...GENESIS, authorities: ["agg-2"] }, { proposer: AUTH }),
        RecoveryError,
      );
      store.close();
    });

    it("survives kill -9 in the middle of writing", async () => {
      const path = tempDb();
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, TRADING_STORE_CHILD: path },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let lastAck = 0;
      let buf = "";
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("child made no progress")), 60_000);
        child.stdout.on("data", (chunk: Buffer) => {
          buf += chunk.toString();
          const lines = buf.split("\n");
          buf = lines.pop() ?? "";
          for (const l of lines) if (l.startsWith("ack ")) lastAck = Number(l.slice(4));
          if (lastAck >= 400 && !child.killed) {
            child.kill("SIGKILL");
            clearTimeout(timer);
            resolve();
          }
        });
        child.on("exit", (code) => {
          if (lastAck < 400) {
            clearTimeout(timer);
            reject(new Error(`child exited early (${code})`));
          }
        });
      });
      await new Promise((r) => child.once("exit", r));

      const store = TradingStore.open(path);
      assert.ok(store.latestSnapshot(), "the child wrote snapshots");
      const recovered = recoverSequencer(store, GENESIS, { proposer: AUTH });
      assert.ok(
        recovered.lastSeq >= lastAck,
        `acknowledged entry ${lastAck} survived (log ends at ${recovered.lastSeq})`,
      );
      const hash = recovered.core.stateHash();
      store.close();
      const replayed = replayFromGenesis(path);
      assert.equal(replayed.seq, recovered.lastSeq);
      assert.equal(replayed.hash, hash, "snapshot + log tail equals full re-execution");
    });
  });
}
