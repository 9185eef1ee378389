#!/usr/bin/env node
// Bundles the compiled program (dist/ or build/, from tsc) so that a process loads a few files instead of
// about two hundred: `node scripts/bundle.mjs dist`.
//
// Why: Node 20 resolves, reads, compiles and links each ES module file on its own, and has no compile
// cache. Measured on the 2-core machine, loading the aggregator's module graph took 0.44 CPU-s from the
// files tsc writes and 0.30 from a bundle (a bare node: 0.10). Every agent, aggregator and `gridlet`
// command starts so.
//
// What it writes, in <out>/bundle/: one entry per program (cli.js, agent.js), one per benchmark for
// `gridlet bench` (bench-<name>.js), and the chunks that they share or load later (each `gridlet`
// command is imported when it is run, so a command loads only its own code). <out>/cli/main.js and
// <out>/agent/runtime/main.js, the files that the `gridlet` bin and the systemd units run, are then
// replaced by one line that imports the bundle's entry. Every other compiled file stays where tsc wrote
// it: the unit tests import them, benchmarks run as scripts start from them, and so do the ingest verify
// threads.
//
// `import.meta.url` in a bundled module is rewritten to the URL its own compiled file has, so that the
// paths it computes from it (profiles, dashboard, package.json, the CLI's own entry) are those of the
// unbundled program. Dependencies are not bundled here (scripts/vendor.mjs bundles those).
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const outRoot = process.argv[2];
if (outRoot !== "dist" && outRoot !== "build") {
  console.error("usage: node scripts/bundle.mjs dist|build");
  process.exit(2);
}
let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  console.error("bundle: esbuild is not installed (npm ci without --omit=dev); cannot bundle");
  process.exit(1);
}

const out = resolve(outRoot);
const bundleDir = join(out, "bundle");
/** bundle entry name → compiled entry file (relative to the output root) */
const ENTRIES = { cli: "cli/main.js", agent: "agent/runtime/main.js" };
/**
 * The benchmarks too (bench-<name>.js): `gridlet bench` imports them into its own process, and from the
 * bundle they share its modules (one copy of each error class, so that exit codes come out right).
 */
const BENCHES = readdirSync(join(outRoot, "bench"))
  .filter((f) => f.endsWith(".js") && !f.endsWith(".test.js") && !f.startsWith("_"))
  .map((f) => [`bench-${f.slice(0, -3)}`, `bench/${f}`]);
/** the line that replaces a compiled entry once it is bundled */
const STUB = "// gridlet: this program is bundled (scripts/bundle.mjs)";
const SHEBANG = "#!/usr/bin/env node";

for (const file of Object.values(ENTRIES)) {
  if (readFileSync(join(out, file), "utf8").includes(STUB)) {
    console.error(`bundle: ${outRoot}/${file} is already a stub; run tsc first`);
    process.exit(1);
  }
}

const toPosix = (p) => p.split(sep).join("/");
const metaUrl = {
  name: "import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const rel = toPosix(relative(bundleDir, args.path));
      const own = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
      return { contents: text.replaceAll("import.meta.url", own), loader: "js" };
    });
  },
};

rmSync(bundleDir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: Object.fromEntries(
    [...Object.entries(ENTRIES), ...BENCHES].map(([name, file]) => [name, join(out, file)]),
  ),
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // dependencies stay imports: node_modules and package.json "imports" (#zod, ... from vendor/)
  packages: "external",
  external: ["#*"],
  outdir: bundleDir,
  chunkNames: "[name]-[hash]",
  plugins: [metaUrl],
  logLevel: "error",
  legalComments: "none",
});
for (const [name, file] of Object.entries(ENTRIES)) {
  const path = join(out, file);
  const target = toPosix(relative(dirname(path), join(bundleDir, `${name}.js`)));
  writeFileSync(
    path,
    `${SHEBANG}\n${STUB}\nimport ${JSON.stringify(target.startsWith(".") ? target : `./${target}`)};\n`,
  );
}
