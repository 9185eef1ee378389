#!/usr/bin/env node
// Runs every compiled test file (build/**/*.test.js, from tsconfig.json; dist/ holds production only) with node's test runner. Node 20 does not expand
// globs itself, so the files are listed here. Arguments narrow the run: `node scripts/run-tests.mjs market`
// runs the test files whose path contains "market".
//
// The runner starts files in the order given, so the long ones (process tests that wait on wall-clock
// intervals) go first: started last, one of them would run alone at the end while the other slot idles.
// Two files at once on two cores (GRIDLET_TEST_CONCURRENCY overrides it): the process tests start a
// dozen processes each, and a third file at once made the timing-sensitive ones (the demo, fail-over,
// the 16-process stop) miss their windows on a loaded machine.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Test files that take longest on the 2-core reference machine, in the order they should start
 * (substrings of paths): the ones that wait on wall-clock intervals alternate with the CPU-bound
 * simulator sweeps, so that the waits overlap with computation rather than with each other.
 */
const SLOW_FIRST = [
  "test/http-dashboard",
  "test/consensus-byzantine",
  "test/e2e-consortium-failover",
  "test/demo.test",
  "test/consensus-sim",
  "test/agent-trading-process",
  "test/e2e-consortium.test",
  "test/consensus-pow",
  "test/agent-failover.test",
  "test/hardening-broker",
  "test/node-cluster",
  "test/e2e-store-forward",
  "test/config-cli",
  "test/logs.test",
  "test/ledger-sim",
  "test/agent-notify",
  "test/e2e-sdm630",
  "test/credit-cli",
  "test/e2e-consortium-setup",
  "test/cli.test",
];

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const rank = (f) => {
  const i = SLOW_FIRST.findIndex((s) => f.includes(s));
  return i < 0 ? SLOW_FIRST.length : i;
};

const filters = process.argv.slice(2);
const files = find("build", [])
  .filter((f) => !f.startsWith(join("build", "node_modules")))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) {
  console.error("no test files found under build/ (run `npm run build:test` first)");
  process.exit(1);
}
const concurrency = Number(process.env.GRIDLET_TEST_CONCURRENCY ?? 2);
const reporters = ["--test-reporter=spec", "--test-reporter-destination=stdout"];
// GRIDLET_TEST_DURATIONS=FILE: also write each file's duration there (JSON, longest first)
const durations = process.env.GRIDLET_TEST_DURATIONS;
if (durations)
  reporters.push(
    `--test-reporter=${join(import.meta.dirname, "test-durations.mjs")}`,
    `--test-reporter-destination=${durations}`,
  );
const started = Date.now();
const r = spawnSync(
  process.execPath,
  ["--test", ...reporters, `--test-concurrency=${concurrency}`, ...files],
  { stdio: "inherit" },
);
console.log(
  `${files.length} test files, ${concurrency} at a time: ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(r.status ?? 1);
