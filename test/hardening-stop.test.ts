import assert from "node:assert/strict";
import { after, test } from "node:test";
import { freeListenPort } from "../bench/harness/net.js";
import { makeProcessConsortium } from "../bench/harness/process-consortium.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";

const tmp = tempDir();
after(() => tmp.cleanup());

/**
 * Sixteen aggregator processes, each with its embedded broker and fifteen peers logged in to it, are
 * stopped with SIGTERM at once: every one exits 0, publishes its `offline` status, and logs no
 * warning or error while it stops (Aedes used to overflow its stack closing many clients).
 */
test("16 aggregator processes stopped with SIGTERM all exit 0, with no warning", {
  timeout: 300_000,
}, async () => {
  const listen: { host: string; port: number }[] = [];
  for (let i = 0; i < 16; i++) listen.push({ host: "127.0.0.1", port: await freeListenPort() });
  const k = await makeProcessConsortium(tmp.dir, {
    listen,
    n: 16,
    trading: { intervalMs: 60_000, confirmWindowMs: 60_000 },
  });
  const procs: Proc[] = k.configs.map((c) => spawnGridlet(["aggregator", "--config", c]));
  try {
    await Promise.all(procs.map((p) => p.waitForOutput(/ledger started/, 120_000)));
    // every member connected to every peer's broker before the stop
    await waitFor(
      "every member connected to its 15 peers",
      () => procs.every((p) => [...p.output().matchAll(/connected to peer broker/g)].length >= 15),
      120_000,
      500,
    );
    const marks = procs.map((p) => p.output().length);
    const codes = await Promise.all(procs.map((p) => p.stop("SIGTERM", 60_000)));
    const tails = procs.map((p, i) => p.output().slice(marks[i]));
    for (const [i, tail] of tails.entries()) {
      assert.doesNotMatch(tail, /RangeError|Maximum call stack/, `eag${i}:\n${tail}`);
      assert.doesNotMatch(tail, /^\S*\s*(WARN|ERROR)\b/m, `eag${i} warned while stopping:\n${tail}`);
    }
    // a process that did not exit 0 is named with its signal and last words (a base run saw two exit by
    // a signal once, with nothing to tell which)
    const why = codes
      .map((c, i) =>
        c === 0 ? "" : `eag${i}: exit ${c}, signal ${procs[i].child.signalCode}\n${tails[i].slice(-2000)}`,
      )
      .join("");
    assert.deepEqual(codes, new Array(16).fill(0), why);
  } finally {
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
  }
});

/**
 * A SIGTERM that arrives while an aggregator starts (a supervisor stopping it early; under load, the
 * 16-process stop above sent its SIGTERMs while one member was between "ledger started" and the end of
 * its start) stops it once it has started, with exit 0, instead of ending it by the default action.
 */
test("an aggregator stopped with SIGTERM while it starts exits 0 once started", {
  timeout: 120_000,
}, async () => {
  const early = tempDir();
  try {
    // its three peers never start: the start waits for them (up to 3 s) before the ledger starts
    const k = await makeProcessConsortium(early.dir, {
      n: 4,
      trading: { intervalMs: 60_000, confirmWindowMs: 60_000 },
    });
    const p = spawnGridlet(["aggregator", "--config", k.configs[0]]);
    await p.waitForOutput(/\S/, 30_000);
    assert.doesNotMatch(p.output(), /aggregator started/, "the signal must come during the start");
    const code = await p.stop("SIGTERM", 60_000);
    assert.equal(code, 0, `exit ${code}, signal ${p.child.signalCode}\n${p.output()}`);
    assert.match(p.output(), /aggregator started[\s\S]*stopping/, "started, then stopped on the signal");
  } finally {
    early.cleanup();
  }
});
