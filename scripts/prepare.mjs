#!/usr/bin/env node
// npm runs `prepare` after `npm ci` / `npm install` in a checkout, and before `npm pack`.
// - With the dev dependencies (TypeScript): build dist/ (before a pack: from scratch, so that no file of a
//   deleted source is shipped).
// - Without them (`npm ci --omit=dev` on a Pi): there is no compiler, so say so and leave dist/ as it is
//   instead of failing the install; a packed release needs no build at all (docs/OPERATIONS.md).
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

const packing = process.env.npm_command === "pack" || process.env.npm_command === "publish";
const tsc = join("node_modules", ".bin", process.platform === "win32" ? "tsc.cmd" : "tsc");

if (!existsSync(tsc)) {
  if (packing) {
    console.error(
      "prepare: TypeScript is not installed (npm ci without --omit=dev), so dist/ cannot be built",
    );
    process.exit(1);
  }
  const main = join("dist", "cli", "main.js");
  console.error(
    existsSync(main)
      ? "prepare: no TypeScript compiler (dev dependencies omitted); keeping the existing dist/"
      : "prepare: no TypeScript compiler (dev dependencies omitted) and no dist/: install the release tarball " +
          "instead (docs/OPERATIONS.md), or run `npm ci` with the dev dependencies and `npm run build`",
  );
  process.exit(0);
}
if (packing) rmSync("dist", { recursive: true, force: true });
const r = spawnSync("npm", ["run", "build"], { stdio: "inherit" });
process.exit(r.status ?? 1);
