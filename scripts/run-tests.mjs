#!/usr/bin/env node
// Runs every compiled test file (build/**/*.test.js, from tsconfig.json; dist/ holds production only) with node's test runner. Node 20 does not expand
// globs itself, so the files are listed here. Arguments narrow the run: `node scripts/run-tests.mjs market`
// runs the test files whose path contains "market".
//
// The runner starts files in the order given, so the long ones (process tests that wait on wall-clock
// intervals) go first: started last, one of them would run alone at the end while the other slot idles.
// GRIDLET_TEST_CONCURRENCY overrides how many files run at once.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Test files that take longest on the 2-core reference machine, longest first (substrings of paths). */
const SLOW_FIRST = [
  "agent-trading-process",
  "e2e-consortium-failover",
  "demo",
  "e2e-consortium.test",
  "agent-failover.test",
  "e2e-store-forward",
  "cli.test",
  "agent-notify",
  "e2e-consortium-setup",
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
const r = spawnSync(
  process.execPath,
  ["--test", "--test-reporter=spec", `--test-concurrency=${concurrency}`, ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
