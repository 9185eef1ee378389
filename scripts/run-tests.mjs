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
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

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

/**
 * A test file whose compiled source matches this starts processes, threads, pseudo-terminals or
 * brokers, and runs in a process of its own. Every other one (the unit tests and the simulator
 * sweeps, two thirds of the files) shares one process with the others: node's test runner starts a
 * process per file, and for these the start-up cost more than their tests (measured on the 2-core
 * machine: 76 small files took 48 CPU-seconds one process each and 13 in one). GRIDLET_TEST_GROUP=0
 * runs every file alone.
 */
const RUNS_ALONE =
  /helpers\/cli|helpers\/brokers|harness\/procs|harness\/process-consortium|child_process|PtyPair|worker_threads|VerifyPool|mosquitto|chromium|playwright|firmware-bridge\/testing|startEmbeddedBroker/;

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
const grouped =
  process.env.GRIDLET_TEST_GROUP === "0"
    ? []
    : files.filter((f) => rank(f) === SLOW_FIRST.length && !RUNS_ALONE.test(readFileSync(f, "utf8")));
let runList = files;
let groupFile;
if (grouped.length > 1) {
  // One entry file importing the grouped ones, started right after the first of the slow files, so
  // that its computation overlaps with their waiting.
  groupFile = join(tmpdir(), `gridlet-unit-tests-${process.pid}.mjs`);
  const imports = grouped.map((f) => `import ${JSON.stringify(pathToFileURL(resolve(f)).href)};`);
  writeFileSync(groupFile, `${imports.join("\n")}\n`);
  const alone = files.filter((f) => !grouped.includes(f));
  runList = [...alone.slice(0, 1), groupFile, ...alone.slice(1)];
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
  ["--test", ...reporters, `--test-concurrency=${concurrency}`, ...runList],
  { stdio: "inherit" },
);
if (groupFile !== undefined) rmSync(groupFile, { force: true });
const shared = groupFile === undefined ? "" : ` (${grouped.length} of them in one process)`;
console.log(
  `${files.length} test files${shared}, ${concurrency} at a time: ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(r.status ?? 1);
