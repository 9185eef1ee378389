import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/**
 * The import graph of the source tree and the dependency rules of docs/DEVELOPING.md, checked by
 * test/architecture.test.ts: `agent/` and `aggregator/` never reach each other (not even through
 * `config/`), `protocol/` imports only itself, and production code never reaches a test kit or the
 * consensus simulator.
 */

export interface ImportEdge {
  from: string;
  to: string;
}

const SKIP = new Set(["node_modules", ".git", "dist", "build", "test-artifacts"]);

/** Every .ts file under `root`, as a path relative to it with `/` separators. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name)) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts") && !name.endsWith(".d.ts"))
        out.push(relative(root, p).split(sep).join("/"));
    }
  };
  walk(root);
  return out.sort();
}

const IMPORT_RE = new RegExp(
  [
    String.raw`(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']`,
    String.raw`import\(\s*["']([^"']+)["']\s*\)`,
    String.raw`(?:^|\n)\s*import\s*["']([^"']+)["']`,
  ].join("|"),
  "g",
);

/** Every import specifier of one file's text, as written. */
export function specifiersOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined) out.push(spec);
  }
  return out;
}

/** Relative imports of one file's text, resolved to repository paths of .ts files. */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of specifiersOf(text)) {
    if (!spec.startsWith(".")) continue;
    const abs = resolve("/", dirname(file), spec).slice(1);
    out.push(abs.replace(/\.js$/, ".ts"));
  }
  return out;
}

export function importGraph(root: string): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sourceFiles(root)) g.set(f, importsOf(f, readFileSync(join(root, f), "utf8")));
  return g;
}

export const isTestFile = (f: string): boolean => f.endsWith(".test.ts") || f.startsWith("test/");
const top = (f: string): string => f.split("/")[0] ?? "";

/** Files reachable from `start` through imports (not including `start` itself). */
function reachable(g: Map<string, string[]>, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(g.get(start) ?? [])];
  while (stack.length > 0) {
    const f = stack.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const t of g.get(f) ?? []) stack.push(t);
  }
  return seen;
}

/**
 * Each broken rule as "<file> → <imported file>: <rule>". Rules apply to what a file reaches through
 * any chain of imports, so that a detour through config/ or bench/ does not hide a crossing.
 */
export function dependencyViolations(g: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const file of g.keys()) {
    const where = top(file);
    const test = isTestFile(file);
    for (const to of reachable(g, file)) {
      const there = top(to);
      let rule: string | null = null;
      if (where === "agent" && there === "aggregator") rule = "agent/ must not import aggregator/";
      else if (where === "aggregator" && there === "agent") rule = "aggregator/ must not import agent/";
      else if (where === "protocol" && !test && there !== "protocol")
        rule = "protocol/ imports only protocol/";
      else if (!test && to.startsWith("test/")) rule = "production code must not import test/";
      else if (
        !test &&
        where !== "bench" &&
        to.startsWith("aggregator/consensus/sim/") &&
        !file.startsWith("aggregator/consensus/sim/")
      )
        rule = "production code must not import the simulator";
      if (rule !== null) out.push(`${file} → ${to}: ${rule}`);
    }
  }
  return out.sort();
}

/**
 * Imports of a package by its own name where package.json "imports" offers its bundle ("#zod" for zod,
 * built by scripts/vendor.mjs): each as "<file> imports <package>: use <#name>". `vendored` maps a
 * package to its "#name"; `root` is the checkout.
 */
export function vendorBypasses(root: string, vendored: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const f of sourceFiles(root)) {
    for (const spec of specifiersOf(readFileSync(join(root, f), "utf8"))) {
      const via = vendored.get(spec);
      if (via !== undefined) out.push(`${f} imports ${spec}: use ${via}`);
    }
  }
  return out.sort();
}

/** package.json "imports" of `root`: each bundled package's name → its "#name". */
export function vendoredPackages(root: string): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    imports?: Record<string, { unbundled?: string }>;
  };
  const out = new Map<string, string>();
  for (const [name, target] of Object.entries(pkg.imports ?? {})) {
    if (typeof target.unbundled === "string") out.set(target.unbundled, name);
  }
  return out;
}
