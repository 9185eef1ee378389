#!/usr/bin/env node
// What `npm test` does before the tests: bundle the dependencies once, then side by side the production
// build (dist/), the test build (build/) and the lint. The same steps as `npm run build`, `npm run
// build:test` and `npm run lint` one after the other, in about half their time on the 2-core machine.
// Each step's output is printed when it ends; the exit code is the first failing step's (0 when none).
import { spawn } from "node:child_process";
import { join } from "node:path";

const bin = (name) => join("node_modules", ".bin", name);
const node = (script, ...args) => [process.execPath, join("scripts", script), ...args];

/** Runs the commands of a step one after the other; resolves to the first non-zero exit code, or 0. */
async function step(name, commands) {
  let out = "";
  for (const [cmd, ...args] of commands) {
    const code = await new Promise((resolve) => {
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.on("data", (d) => {
        out += d;
      });
      child.stderr.on("data", (d) => {
        out += d;
      });
      child.on("error", (e) => {
        out += `${cmd}: ${e.message}\n`;
        resolve(1);
      });
      child.on("close", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    if (code !== 0) {
      process.stdout.write(`${out}${name}: failed (exit ${code}) at: ${[cmd, ...args].join(" ")}\n`);
      return code;
    }
  }
  process.stdout.write(`${out}${name}: ok\n`);
  return 0;
}

const vendored = await step("vendor", [node("vendor.mjs")]);
if (vendored !== 0) process.exit(vendored);
const codes = await Promise.all([
  step("build (dist/)", [
    [bin("tsc"), "-p", "tsconfig.build.json"],
    node("bundle.mjs", "dist"),
    node("link-bin.mjs"),
  ]),
  step("build:test (build/)", [[bin("tsc"), "-p", "tsconfig.json"], node("bundle.mjs", "build")]),
  step("lint", [[bin("biome"), "check", "."]]),
]);
process.exit(codes.find((c) => c !== 0) ?? 0);
