#!/usr/bin/env node
// After a build, make `npx gridlet` work inside this checkout: npm links the bins of dependencies into
// node_modules/.bin, but not the package's own bin, so link it here and mark the entry point executable.
import { chmodSync, existsSync, lstatSync, mkdirSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";

const target = join("dist", "cli", "main.js");
if (!existsSync(target)) {
  console.error(`link-bin: ${target} is missing; run the build first`);
  process.exit(1);
}
chmodSync(target, 0o755);
mkdirSync(join("node_modules", ".bin"), { recursive: true });
const link = join("node_modules", ".bin", "gridlet");
try {
  if (lstatSync(link)) unlinkSync(link);
} catch {
  // no previous link
}
symlinkSync(join("..", "..", target), link);
