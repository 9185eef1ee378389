import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runFig5, simulatePair } from "../aggregator/credit/experiment/fig5.js";
import { drawBorrowers, runFig7 } from "../aggregator/credit/experiment/fig7.js";
import { experimentFiles } from "../aggregator/credit/experiment/report.js";
import { createRng } from "../aggregator/credit/experiment/rng.js";
import { niceTicks } from "../aggregator/credit/experiment/svg.js";

test("Fig. 7: optimal pricing gives every bank more utility than RAS and AAS (small seeded runs)", () => {
  for (const seed of [1, 2, 3]) {
    const r = runFig7({ seed, borrowers: 40, banks: 2 });
    assert.equal(r.banks.length, 2);
    for (const b of r.banks) {
      assert.equal(b.borrowers, 20);
      assert.ok(b.bankUtility.optimal > b.bankUtility.RAS, `seed ${seed} bank ${b.bank} vs RAS`);
      assert.ok(b.bankUtility.optimal > b.bankUtility.AAS, `seed ${seed} bank ${b.bank} vs AAS`);
      assert.ok(b.totalLoan > 0);
    }
  }
});

test("Fig. 7 draws stay in Table II's ranges and follow the seed", () => {
  const bs = drawBorrowers({ ...runFig7({ seed: 9, borrowers: 10, banks: 1 }).options, borrowers: 200 });
  for (const b of bs) {
    assert.ok(b.d >= 20_000 && b.d <= 20_400);
    assert.ok(b.theta >= 2000 && b.theta <= 2500);
    assert.ok(b.t > 0 && b.t <= 10);
    assert.ok(b.lambda > 0 && b.lambda <= 1);
    assert.ok(b.gamma > 0 && b.gamma <= 1);
    assert.ok(b.c >= 0.1 && b.c <= 0.2);
  }
  assert.deepEqual(
    runFig7({ seed: 4, borrowers: 20, banks: 1 }),
    runFig7({ seed: 4, borrowers: 20, banks: 1 }),
  );
  assert.notDeepEqual(
    runFig7({ seed: 4, borrowers: 20, banks: 1 }),
    runFig7({ seed: 5, borrowers: 20, banks: 1 }),
  );
});

test("Fig. 5: credit lifts trades per hour above what the confirmation delays allow", () => {
  const r = runFig5({ seed: 3, pairs: 50, repetitions: 2 });
  const row = (minutes: number, credit: boolean, frequency: number | "all") =>
    r.rows.find((x) => x.confirmationMin === minutes && x.credit === credit && x.frequency === frequency)!;
  for (const minutes of [60, 10]) {
    const without = row(minutes, false, "all");
    const withCredit = row(minutes, true, "all");
    assert.ok(withCredit.tradesPerHour > without.tradesPerHour, `${minutes} min`);
    assert.ok(withCredit.avgConfirmationWaitMin < without.avgConfirmationWaitMin);
    // with credit a node trades when it wishes: the wait is exactly the confirmation time
    assert.equal(withCredit.avgDelayMin, 0);
    assert.ok(Math.abs(withCredit.avgConfirmationWaitMin - minutes) < 1e-9);
  }
  // 60-minute confirmation caps a pair near one trade per hour (plus the first from its own coins)
  assert.ok(row(60, false, 5).tradesPerHour < 2.5);
  assert.ok(row(60, true, 5).tradesPerHour > 4);
  // and the shorter the confirmation, the less there is for credit to win
  const gain = (m: number) => row(m, true, "all").tradesPerHour - row(m, false, "all").tradesPerHour;
  assert.ok(gain(60) > gain(10));
});

test("Fig. 5 pair model: without credit a payer waits for its incoming payment to confirm", () => {
  const o = { horizonMin: 240, initialCoins: 20, tradeCoins: 20 };
  // wishes at 0, 1, 2 min; confirmation 30 min: A pays at 0, B pays at 1 (own coins), A waits for B's payment
  const none = simulatePair([0, 1, 2], o, 30, false);
  assert.equal(none.trades, 3);
  assert.equal(none.delaySum, 31 - 2);
  const credit = simulatePair([0, 1, 2], o, 30, true);
  assert.equal(credit.delaySum, 0);
  assert.equal(credit.waitSum, 90);
  // a trade that cannot happen before the horizon does not count
  assert.equal(simulatePair([0, 1, 2], o, 300, false).trades, 2);
});

test("experiment files are deterministic per seed and the SVGs are well-formed", () => {
  const a = experimentFiles({ seed: 2, commitLatencyMs: 500, fig5: { repetitions: 1 } });
  const b = experimentFiles({ seed: 2, commitLatencyMs: 500, fig5: { repetitions: 1 } });
  assert.deepEqual(a, b);
  assert.deepEqual(Object.keys(a).sort(), [
    "fig5.json",
    "fig5.md",
    "fig5.svg",
    "fig7.json",
    "fig7.md",
    "fig7.svg",
  ]);
  for (const name of ["fig5.svg", "fig7.svg"]) {
    const svg = a[name];
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
    assert.equal((svg.match(/<g /g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
  }
  assert.match(a["fig5.md"], /Gridlet BFT \(500 ms\)/);
  assert.match(a["fig7.md"], /\| bank \| borrowers \|/);
  JSON.parse(a["fig5.json"]);
  JSON.parse(a["fig7.json"]);
});

test("seeded generator and axis ticks", () => {
  const x = createRng(5);
  const y = createRng(5);
  const xs = Array.from({ length: 5 }, () => x.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => y.next()),
  );
  assert.ok(xs.every((v) => v >= 0 && v < 1));
  const z = createRng(6);
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => z.next()),
  );
  const t = niceTicks(0, 217_000);
  assert.equal(t[0], 0);
  assert.ok(t[t.length - 1] >= 217_000);
  assert.ok(t.length >= 4 && t.length <= 8);
});

test("the committed results in docs/credit-results are what the code produces for seed 1", () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "credit-results");
  // The committed tables use the commit latency measured across aggregator processes
  // (bench/consortium-latency); the scenario label records it, e.g. "Gridlet BFT (190 ms)".
  const fig5 = JSON.parse(readFileSync(join(dir, "fig5.json"), "utf8")) as {
    options: { scenarios: { label: string }[] };
  };
  const measured = fig5.options.scenarios.map((x) => /\((\d+) ms\)/.exec(x.label)?.[1]).find((x) => x);
  assert.ok(measured !== undefined, "fig5.json names the measured commit latency");
  const files = experimentFiles({ seed: 1, commitLatencyMs: Number(measured), fig5: { repetitions: 20 } });
  for (const [name, content] of Object.entries(files)) {
    assert.equal(
      readFileSync(join(dir, name), "utf8"),
      content,
      `${name} is stale: rerun gridlet credit experiment`,
    );
  }
});
