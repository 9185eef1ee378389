#!/usr/bin/env node
// Bundles the dependencies that every gridlet process loads and that are spread over many files (zod's 94
// modules, mqtt's and @peculiar/x509's dozens) into one ES module each, vendor/<name>.js. The code imports
// them through package.json "imports" ("#zod", "#mqtt", ...), which point here.
//
// Why: Node 20 resolves, reads, compiles and links every module file on its own, and at a process start
// that costs more than the code in them. Measured on the 2-core machine, CPU time of `import` alone
// (over a bare node's 0.07 s): zod 0.23 → 0.11 s, mqtt 0.22 → 0.10 s, @peculiar/x509 0.20 → 0.12 s.
// Every agent, aggregator and `gridlet` command starts with some of them.
//
// The bundles are built from the installed packages (package-lock.json decides their versions), with
// esbuild, at every `npm run build` and `npm run build:test`, and ship in the release tarball. Native
// addons and what the packages load only optionally stay outside. `node --conditions=unbundled` runs
// the same code against the packages themselves (package.json "imports"), to compare.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const OUT = "vendor";

/**
 * name in "#name" → the package. `esm`: the package's own ES build is used and re-exported whole; without
 * it the package is CommonJS, and its named exports are listed from what Node sees in it (an ES bundle of
 * a CommonJS module has only a default export otherwise).
 */
const PACKAGES = [
  { name: "zod", pkg: "zod", esm: true },
  { name: "mqtt", pkg: "mqtt" },
  { name: "aedes", pkg: "aedes", esm: true },
  { name: "x509", pkg: "@peculiar/x509", esm: true },
  { name: "yaml", pkg: "yaml" },
  { name: "prom-client", pkg: "prom-client" },
];

/** Loaded only where a feature asks for them (and absent in a normal install), or native: not bundled. */
const EXTERNAL = ["@opentelemetry/api", "bufferutil", "utf-8-validate", "*.node"];

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  console.error(
    "vendor: esbuild is not installed (npm ci without --omit=dev); cannot bundle the dependencies",
  );
  process.exit(1);
}

const require = createRequire(join(process.cwd(), "package.json"));

async function entry({ pkg, esm }) {
  if (esm) return `export * from ${JSON.stringify(pkg)};\n`;
  const names = Object.keys(await import(pkg)).filter((n) => n !== "default" && /^[A-Za-z_$][\w$]*$/.test(n));
  return [
    `import m from ${JSON.stringify(pkg)};`,
    `export default m;`,
    names.length > 0 ? `export const { ${names.join(", ")} } = m;` : "",
    "",
  ].join("\n");
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const p of PACKAGES) {
  require.resolve(p.pkg); // a clear "Cannot find module" before esbuild's longer message
  await esbuild.build({
    stdin: { contents: await entry(p), resolveDir: process.cwd(), sourcefile: `${p.name}-entry.js` },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    mainFields: p.esm ? ["module", "main"] : ["main", "module"],
    external: EXTERNAL,
    // CommonJS code inside an ES module still calls require() for node's own modules
    banner: {
      js: 'import { createRequire as __gridletRequire } from "node:module";\nconst require = __gridletRequire(import.meta.url);',
    },
    legalComments: "inline",
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: "error",
    outfile: join(OUT, `${p.name}.js`),
  });
}
writeFileSync(join(OUT, "package.json"), `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`);
