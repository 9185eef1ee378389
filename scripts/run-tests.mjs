#!/usr/bin/env node
// Runs every compiled test file (build/**/*.test.js, from tsconfig.json; dist/ holds production only) with
// node's test runner. Node 20 does not expand globs itself, so the files are listed here. Arguments narrow
// the run: `node scripts/run-tests.mjs market` runs the test files whose path contains "market".
//
// Scheduling. Most of the suite's wall time is process tests, and they differ in what they cost: the demo
// keeps a core busy for its whole run, the 16-process stop two cores, while a pty test or the phantom-energy
// test mostly waits on wall-clock intervals (a tenth of a core). node's runner only knows "N files at once",
// so either the waiting files hold slots the machine could use, or the busy ones pile up and the
// timing-sensitive ones miss their windows. This runner starts each file as a process of its own (node
// with the spec reporter) and admits the next one while the cores the running files use on average
// (scripts/test-costs.json, measured by a run with GRIDLET_TEST_CONCURRENCY=1 GRIDLET_TEST_COSTS=write)
// leave room for its own: longest first, so that a file that mostly waits runs beside busy ones. Each
// file's output is printed whole when it ends, so that files do not interleave.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

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

/** The simulator sweeps compute for seconds: they run alone, beside the process tests, not in the group. */
const SWEEPS = /^build\/test\/(consensus-(sim|byzantine|starvation|powercut|pow)|ledger-sim)\.test\.js$/;

/** The name the shared process has in the costs file and the report. */
const GROUP = "(unit tests in one process)";

const COSTS_FILE = join(import.meta.dirname, "test-costs.json");
/** What a file not yet measured is taken to cost: a core for 5 s. */
const UNKNOWN = { wallMs: 5000, cpuMs: 5000 };

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find("build", [])
  .filter((f) => !f.startsWith(join("build", "node_modules")))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files found under build/ (run `npm run build:test` first)");
  process.exit(1);
}
const grouped =
  process.env.GRIDLET_TEST_GROUP === "0"
    ? []
    : files.filter((f) => !SWEEPS.test(f) && !RUNS_ALONE.test(readFileSync(f, "utf8")));

/** @type {{name: string, path: string}[]} */
const jobs = files.filter((f) => !grouped.includes(f)).map((f) => ({ name: f, path: f }));
let groupFile;
if (grouped.length > 1) {
  groupFile = join(tmpdir(), `gridlet-unit-tests-${process.pid}.mjs`);
  const imports = grouped.map((f) => `import ${JSON.stringify(pathToFileURL(resolve(f)).href)};`);
  writeFileSync(groupFile, `${imports.join("\n")}\n`);
  jobs.push({ name: GROUP, path: groupFile });
} else if (grouped.length === 1) jobs.push({ name: grouped[0], path: grouped[0] });

const costs = existsSync(COSTS_FILE) ? JSON.parse(readFileSync(COSTS_FILE, "utf8")).files : {};
const cost = (name) => costs[name] ?? UNKNOWN;
/** cores a file keeps busy on average while it runs */
const load = (name) => Math.min(CORES, Math.max(0.05, cost(name).cpuMs / Math.max(1, cost(name).wallMs)));
/** The CPU quota of a container (cgroup v2 cpu.max, "QUOTA PERIOD"), which the CPU count does not show. */
function cgroupCpus() {
  try {
    const [quota, period] = readFileSync("/sys/fs/cgroup/cpu.max", "utf8").trim().split(/\s+/);
    const n = Math.floor(Number(quota) / Number(period)); // "max": NaN, no quota
    return Number.isFinite(n) ? Math.max(1, n) : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
/** A positive number from the environment variable `name`, or `fallback` when it is unset; exit 2 otherwise. */
function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!(n > 0)) {
    console.error(`${name} must be a positive number, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}
const CORES = positive("GRIDLET_TEST_CPUS", Math.min(availableParallelism(), cgroupCpus()));
// longest first: started last, a long file would run alone at the end while the other cores idle
jobs.sort((a, b) => cost(b.name).wallMs - cost(a.name).wallMs || (a.name < b.name ? -1 : 1));

/**
 * The cores' worth of average load admitted at once: one and a half times the cores. The averages are
 * taken over whole files, whose busy moments rarely coincide; at exactly the cores' number the 2-core
 * machine was busy 68 % of the run (255 s for 347 CPU-s), at one and a half 93 % (182 s for 340).
 */
const capacity = positive("GRIDLET_TEST_LOAD", 1.5 * CORES);
/** files at once at most, whatever their cost: each holds ports, memory and processes */
const maxFiles = positive("GRIDLET_TEST_CONCURRENCY", Math.min(8, 3 * CORES));
const durationsFile = process.env.GRIDLET_TEST_DURATIONS;
const writeCosts = process.env.GRIDLET_TEST_COSTS === "write";
const reporter = ["--test-reporter=spec", "--test-reporter-destination=stdout"];

/** Children's CPU time of a finished `sh` wrapper (Linux: /proc/PID/stat fields cutime and cstime), ms. */
function childrenCpuMs(stat) {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields after the command name start at field 3 (state); cutime and cstime are fields 16 and 17, in
  // clock ticks of 1/100 s (USER_HZ)
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

const totals = { tests: 0, pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
const measured = [];
const failedFiles = [];

function runJob(job) {
  return new Promise((done) => {
    const started = Date.now();
    const statFile = join(tmpdir(), `gridlet-test-cpu-${process.pid}-${measured.length}-${Math.random()}`);
    // `sh` waits for the file's process and then reads its own children's CPU time: that process and every
    // process it waited for (the aggregators, agents and commands a test starts). Elsewhere than Linux
    // the figure is simply left out.
    const args = [process.execPath, ...reporter, job.path].map((a) => `'${a.replaceAll("'", "'\\''")}'`);
    const child = spawn(
      "sh",
      ["-c", `${args.join(" ")}; rc=$?; cat /proc/$$/stat > '${statFile}' 2>/dev/null; exit $rc`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const out = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => out.push(d));
    child.on("close", (code) => {
      const wallMs = Date.now() - started;
      let cpuMs;
      try {
        cpuMs = childrenCpuMs(readFileSync(statFile, "utf8"));
      } catch {
        // no /proc: no CPU figure
      }
      rmSync(statFile, { force: true });
      const text = Buffer.concat(out).toString("utf8");
      process.stdout.write(text);
      for (const key of Object.keys(totals)) {
        const m = new RegExp(`^ℹ ${key} (\\d+)$`, "m").exec(text);
        if (m) totals[key] += Number(m[1]);
      }
      if (code !== 0) failedFiles.push(job.name);
      measured.push({ file: job.name, startMs: started - suiteStarted, wallMs, cpuMs, code });
      done();
    });
  });
}

const suiteStarted = Date.now();
const waiting = [...jobs];
const running = new Map();
let busy = 0;
await new Promise((allDone) => {
  const next = () => {
    if (waiting.length === 0 && running.size === 0) return allDone();
    while (waiting.length > 0 && running.size < maxFiles) {
      // the longest file that fits beside the running ones; with nothing running, the longest whatever it costs
      const i = running.size === 0 ? 0 : waiting.findIndex((j) => busy + load(j.name) <= capacity + 0.05);
      if (i < 0) break;
      const [job] = waiting.splice(i, 1);
      busy += load(job.name);
      running.set(
        job.name,
        runJob(job).then(() => {
          running.delete(job.name);
          busy -= load(job.name);
          next();
        }),
      );
    }
  };
  next();
});
if (groupFile !== undefined) rmSync(groupFile, { force: true });

const wallS = ((Date.now() - suiteStarted) / 1000).toFixed(1);
const cpuS = measured.every((m) => m.cpuMs !== undefined)
  ? `, ${(measured.reduce((s, m) => s + m.cpuMs, 0) / 1000).toFixed(1)} CPU-s`
  : "";
const shared = groupFile === undefined ? "" : ` (${grouped.length} of them in one process)`;
console.log(
  `\n${Object.entries(totals)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`,
);
console.log(`${files.length} test files${shared} on ${CORES} cores: ${wallS} s${cpuS}`);
if (failedFiles.length > 0) console.log(`failed: ${failedFiles.join(", ")}`);

measured.sort((a, b) => b.wallMs - a.wallMs);
if (durationsFile)
  writeFileSync(durationsFile, `${JSON.stringify({ wallS: Number(wallS), byFile: measured }, null, 1)}\n`);
if (writeCosts && filters.length === 0) {
  const out = {};
  for (const m of [...measured].sort((a, b) => (a.file < b.file ? -1 : 1)))
    if (m.cpuMs !== undefined) out[m.file] = { wallMs: m.wallMs, cpuMs: Math.round(m.cpuMs) };
  const note =
    "Each test file's wall time and CPU time (its processes and theirs), from `GRIDLET_TEST_CONCURRENCY=1 GRIDLET_TEST_COSTS=write node scripts/run-tests.mjs` (one file at a time) on the 2-core reference machine; scripts/run-tests.mjs schedules by them.";
  writeFileSync(COSTS_FILE, `${JSON.stringify({ note, files: out }, null, 1)}\n`);
  console.log(`wrote ${relative(process.cwd(), COSTS_FILE)}`);
}
process.exit(failedFiles.length === 0 && totals.fail === 0 ? 0 : 1);
