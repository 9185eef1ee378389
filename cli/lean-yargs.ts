import { notStrictEqual, strictEqual } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import type yargsType from "yargs";

/**
 * yargs, built from its own factory with the platform shim its ESM entry passes, except that the two
 * modules only help text needs (cliui and string-width, which sets up an `Intl.Segmenter` and Unicode
 * property regexes when it loads) are loaded the first time help is rendered. Importing "yargs" cost
 * every process about 95 ms of CPU, and every agent, aggregator and `gridlet` command pays it at start;
 * this way it costs about 35 ms (bench: 20 starts of each, measured against a bare `node`).
 *
 * The shim mirrors yargs' `lib/platform-shims/esm.mjs` of the version in package-lock.json; the modules
 * are yargs' own dependencies, resolved from yargs' directory. If the factory is not where this version
 * keeps it, the stock entry is used: slower, never different (test/cli-hygiene.test.ts checks that the
 * lean one is in use and renders the same help).
 */
const fromHere = createRequire(import.meta.url);

export type Yargs = typeof yargsType;

function leanYargs(): Yargs | undefined {
  let entry: string;
  try {
    entry = fromHere.resolve("yargs");
  } catch {
    return undefined;
  }
  const fromYargs = createRequire(entry);
  try {
    const { YargsFactory } = fromYargs("./build/lib/yargs-factory.js") as {
      YargsFactory: (shim: unknown) => Yargs;
    };
    const { getProcessArgvBin } = fromYargs("./build/lib/utils/process-argv.js") as {
      getProcessArgvBin: () => string;
    };
    const getCallerFile = fromYargs("get-caller-file") as (position: number) => string;
    const y18n = fromYargs("y18n") as (o: { directory: string; updateFiles: boolean }) => unknown;
    const esm = <T>(m: { default: T } | T): T =>
      typeof m === "object" && m !== null && "default" in m ? (m as { default: T }).default : (m as T);
    return YargsFactory({
      assert: { notStrictEqual, strictEqual },
      cliui: (o: unknown) => esm(fromYargs("cliui") as (o: unknown) => unknown)(o),
      findUp: fromYargs("escalade/sync"),
      getEnv: (key: string) => process.env[key],
      inspect,
      getProcessArgvBin,
      mainFilename: entry.substring(0, entry.lastIndexOf("node_modules")) || process.cwd(),
      Parser: fromYargs("yargs-parser"),
      path: { basename, dirname, extname, relative, resolve, join },
      process: {
        argv: () => process.argv,
        cwd: process.cwd,
        emitWarning: (warning: string, type: string) => process.emitWarning(warning, type),
        execPath: () => process.execPath,
        exit: (code: number) => process.exit(code),
        nextTick: process.nextTick,
        stdColumns: process.stdout.columns ?? null,
      },
      readFileSync,
      readdirSync,
      require: fromYargs,
      getCallerFile: () => {
        const file = getCallerFile(3);
        return file.startsWith("file://") ? fileURLToPath(file) : file;
      },
      stringWidth: (s: string) => esm(fromYargs("string-width") as (s: string) => number)(s),
      y18n: esm(y18n)({ directory: join(dirname(entry), "locales"), updateFiles: false }),
    });
  } catch {
    return undefined;
  }
}

const lean = leanYargs();

/** Whether the lean factory is in use (false: the stock entry, on a yargs version laid out otherwise). */
export const yargsIsLean = lean !== undefined;

/** yargs as `import yargs from "yargs"` gives it. */
export async function loadYargs(): Promise<Yargs> {
  return lean ?? (await import("yargs")).default;
}
