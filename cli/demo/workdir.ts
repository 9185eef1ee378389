/**
 * The demo's working directory. The demo recreates it on each run, so it must never be a directory that
 * holds anything else: `gridlet demo --dir .` in a real CA's folder would otherwise wipe that CA. The demo
 * only empties a directory that carries its marker file, which it writes into directories it creates.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../exit.js";

export const DEMO_MARKER = ".gridlet-demo";

/** Makes `dir` an empty demo directory (keeping its marker), or refuses a directory the demo did not make. */
export function prepareDemoDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      throw new UsageError("USAGE", `--dir ${dir}: exists and is not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
      throw new UsageError(
        "USAGE",
        `--dir ${dir}: not a directory made by gridlet demo (no ${DEMO_MARKER} file in it), and not empty; ` +
          "the demo recreates its directory, so name a new or empty one",
      );
    }
    for (const e of entries) if (e !== DEMO_MARKER) rmSync(join(dir, e), { recursive: true, force: true });
  } else {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(
    join(dir, DEMO_MARKER),
    "Made by `gridlet demo`: the next `gridlet demo` with this --dir deletes everything in here.\n",
  );
}
