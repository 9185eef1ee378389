import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "cli", "main.js");

function gridlet(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("gridlet credit price prints R*, α*, β* and both utilities as JSON", () => {
  const r = gridlet(
    "credit",
    "price",
    ...["--d", "20000", "--theta", "2000", "--q-min", "1000", "--p", "1", "--t", "5"],
    ...["--lambda", "0.9", "--gamma", "0.8", "--c", "0.15"],
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const b = out.borrowers[0];
  assert.ok(Math.abs(b.alpha - 8.4) < 1e-9);
  assert.ok(Math.abs(b.beta - 0.48) < 1e-9);
  assert.ok(Math.abs(b.R - 5000) < 1e-6);
  assert.ok(Math.abs(b.bankUtility - 15_000) < 1e-6);
  assert.equal(typeof b.borrowerUtility, "number");
  assert.equal(b.algorithm1.agreesWithinStep, true);
});

test("gridlet credit price reads a YAML file of borrowers (grades, records, k > 0)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-credit-"));
  try {
    const file = join(dir, "borrowers.yaml");
    writeFileSync(
      file,
      [
        "alphaMax: 10",
        "borrowers:",
        "  - { id: b1, d: 20200, theta: 2200, qMin: 1200, p: 1, t: 3, s: 4, f: 1, grade: B2, c: 0.12 }",
        "  - { id: b2, d: 20100, theta: 2000, qMin: 2500, p: 1, t: 3, lambda: 1, gamma: 0.5, c: 0.12 }",
      ].join("\n"),
    );
    const r = gridlet("credit", "price", "--file", file);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.borrowers[0].id, "b1");
    assert.equal(out.borrowers[0].lambda, 0.8);
    assert.ok(Math.abs(out.borrowers[0].gamma - (1 - 6 / 35)) < 1e-12);
    assert.ok(out.borrowers[0].R > out.borrowers[0].k);
    const b2 = out.borrowers[1];
    assert.deepEqual([b2.offered, b2.reason, b2.alpha, b2.R], [false, "K_POSITIVE", 0, 0]);
    assert.match(b2.why, /k > 0/);
    assert.equal(b2.algorithm1.reason, "K_POSITIVE");
    assert.equal(b2.algorithm1.agreesWithinStep, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("gridlet credit price reports why no loan is offered: λ = 0.00336 (R* < 0) and c = 0", () => {
  const base = [
    "credit",
    "price",
    "--d",
    "20000",
    "--theta",
    "2000",
    "--q-min",
    "1000",
    "--p",
    "1",
    "--t",
    "5",
  ];
  const poor = gridlet(...base, "--lambda", "0.00336", "--gamma", "0.8", "--c", "0.15");
  assert.equal(poor.code, 0, poor.stderr);
  const b = JSON.parse(poor.stdout).borrowers[0];
  assert.deepEqual([b.offered, b.reason, b.R], [false, "NO_POSITIVE_AMOUNT", 0]);
  assert.deepEqual(
    [b.algorithm1.offered, b.algorithm1.reason, b.algorithm1.R],
    [false, "NO_POSITIVE_AMOUNT", 0],
  );
  assert.equal(b.algorithm1.agreesWithinStep, true);
  const free = gridlet(...base, "--lambda", "0.9", "--gamma", "0.8", "--c", "0");
  assert.equal(free.code, 0, free.stderr);
  const z = JSON.parse(free.stdout).borrowers[0];
  assert.deepEqual(
    [z.offered, z.reason, z.algorithm1.offered, z.algorithm1.reason],
    [false, "ZERO_COST", false, "ZERO_COST"],
  );
  assert.equal(JSON.parse(free.stdout).totals.loan, 0);
});

test("t outside the seed's range (0, 10] months exits 2 naming t", () => {
  const r = gridlet(
    "credit",
    "price",
    ...["--d", "20000", "--theta", "2000", "--q-min", "1000", "--p", "1", "--t", "10.5"],
    ...["--lambda", "0.9", "--gamma", "0.8", "--c", "0.15"],
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /borrowers\.0\.t\b/);
  assert.equal(r.stdout, "");
});

test("bad pricing input exits 2 naming the field; --help exits 0 with an example", () => {
  const missing = gridlet("credit", "price", "--d", "20000");
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /borrowers\.0\.theta/);
  const bad = gridlet(
    "credit",
    "price",
    ...["--d", "1", "--theta", "1", "--q-min", "0", "--p", "1", "--t", "1"],
    "--lambda",
    "2",
    "--gamma",
    "1",
    "--c",
    "0.1",
  );
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /lambda/);
  for (const args of [
    ["credit", "price"],
    ["credit", "price", "--file", "/nonexistent/x.json"],
  ]) {
    const r = gridlet(...args);
    assert.equal(r.code, 2, r.stderr);
  }
  for (const sub of ["price", "experiment"]) {
    const h = gridlet("credit", sub, "--help");
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /Examples:/);
  }
});

test("gridlet credit experiment writes tables and plots, byte-identical for the same seed", () => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-credit-exp-"));
  try {
    for (const sub of ["a", "b"]) {
      const r = gridlet("credit", "experiment", "--out", join(dir, sub), "--seed", "7", "--repetitions", "2");
      assert.equal(r.code, 0, r.stderr);
    }
    const names = readdirSync(join(dir, "a")).sort();
    assert.deepEqual(names, ["fig5.json", "fig5.md", "fig5.svg", "fig7.json", "fig7.md", "fig7.svg"]);
    for (const n of names)
      assert.equal(readFileSync(join(dir, "a", n), "utf8"), readFileSync(join(dir, "b", n), "utf8"));
    const fig7 = JSON.parse(readFileSync(join(dir, "a", "fig7.json"), "utf8"));
    assert.ok(fig7.totals.bankUtility.optimal > fig7.totals.bankUtility.RAS);
    const bad = gridlet("credit", "experiment", "--out", join(dir, "c"), "--seed", "-1");
    assert.equal(bad.code, 2, bad.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
