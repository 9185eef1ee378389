#!/usr/bin/env node
// Runs every compiled test file (build/**/*.test.js, from tsconfig.json; dist/ holds production only) with node's test runner. Node 20 does not expand
// globs itself, so the files are listed here. Arguments narrow the run: `node scripts/run-tests.mjs market`
// runs the test files whose path contains "market".
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

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
const reporter = process.env.CI ? "spec" : "spec";
const r = spawnSync(
  process.execPath,
  ["--test", `--test-reporter=${reporter}`, "--test-concurrency=2", ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
