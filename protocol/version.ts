import { readFileSync } from "node:fs";

/**
 * Gridlet's version, from the package.json beside the compiled tree: dist/protocol/version.js (or
 * build/...) sits two folders below the package root, in a checkout as in an installed tarball. Read from
 * the file rather than found by yargs, which looks for a package.json above the command's path and, in a
 * global install reached through a symlinked bin, found none ("unknown").
 */
export function gridletVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      name?: unknown;
      version?: unknown;
    };
    if (pkg.name === "gridlet" && typeof pkg.version === "string") return pkg.version;
  } catch {
    // fall through: a copied dist/ without its package.json
  }
  return "unknown";
}
