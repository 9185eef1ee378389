import { readFileSync } from "node:fs";
import { parseDocument } from "#yaml";
import type { z } from "#zod";
import { GridletError } from "../protocol/errors.js";

export type ConfigErrorCode = "CONFIG_INVALID" | "CONFIG_UNREADABLE" | "CONFIG_VERSION";
export class ConfigError extends GridletError<ConfigErrorCode> {
  /** one line per problem: `path: got VALUE, expected WHAT` */
  readonly problems: string[];
  constructor(
    code: ConfigErrorCode,
    message: string,
    problems: string[] = [],
    context: Record<string, unknown> = {},
  ) {
    super(code, problems.length > 0 ? `${message}\n  ${problems.join("\n  ")}` : message, context);
    this.problems = problems;
  }
}

export const CURRENT_CONFIG_VERSION = 1;

/**
 * Migrations from each older `version` to the next, applied in order before validation. Version 1 is
 * the first, so there are none yet; the table is where a renamed field gets carried forward.
 */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

/**
 * Environment overrides: GRIDLET_CFG__MQTT__URL=mqtt://x sets mqtt.url; values are read as YAML scalars.
 * Path segments are separated by `__`; inside a segment `_` separates the words of a camelCase field
 * (GRIDLET_CFG__MQTT__KEEPALIVE_SECONDS sets mqtt.keepaliveSeconds); a number indexes a list
 * (GRIDLET_CFG__METERS__0__PATH sets meters[0].path).
 */
export const ENV_PREFIX = "GRIDLET_CFG__";

/** Longest YAML alias expansion accepted (the yaml library's `maxAliasCount`): no "billion laughs". */
export const MAX_YAML_ALIASES = 100;

function segmentKey(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Applies the GRIDLET_CFG__ variables of `env` to `doc`. When `setBy` is given, it records for each field
 * path set (as printed in errors, e.g. `meters[0].path`) the variable that set it.
 */
export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  setBy?: Map<string, string>,
): Record<string, unknown> {
  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split("__");
    const path: (string | number)[] = [];
    let node: Record<string, unknown> | unknown[] = doc;
    segments.forEach((segment, i) => {
      if (Array.isArray(node) && !/^\d+$/.test(segment)) {
        throw new ConfigError(
          "CONFIG_INVALID",
          `${name}: ${formatPath(path)} is a list, so "${segment}" should be an index (0, 1, ...)`,
          [],
          { variable: name },
        );
      }
      const key: string | number = Array.isArray(node) ? Number(segment) : segmentKey(segment);
      path.push(key);
      const container = node as Record<string | number, unknown>;
      if (i === segments.length - 1) {
        container[key] = parseEnvValue(raw, name);
        return;
      }
      const next = container[key];
      if (typeof next !== "object" || next === null) container[key] = {};
      node = container[key] as Record<string, unknown> | unknown[];
    });
    setBy?.set(formatPath(path), name);
  }
  return doc;
}

function parseEnvValue(raw: string, variable: string): unknown {
  const parsed = parseDocument(raw);
  if (parsed.errors.length > 0) {
    throw new ConfigError(
      "CONFIG_INVALID",
      `${variable}: not a valid YAML value: ${firstLine(parsed.errors[0].message)}`,
      [],
      {
        variable,
      },
    );
  }
  try {
    return parsed.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    throw new ConfigError("CONFIG_INVALID", `${variable}: ${firstLine((e as Error).message)}`, [], {
      variable,
    });
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

export function migrate(doc: Record<string, unknown>, source: string): Record<string, unknown> {
  let version = doc.version;
  if (version === undefined) {
    throw new ConfigError(
      "CONFIG_VERSION",
      `${source}: missing "version" (this gridlet reads version ${CURRENT_CONFIG_VERSION})`,
    );
  }
  if (
    typeof version !== "number" ||
    !Number.isInteger(version) ||
    version < 1 ||
    version > CURRENT_CONFIG_VERSION
  ) {
    throw new ConfigError(
      "CONFIG_VERSION",
      `${source}: version: got ${JSON.stringify(version)}, expected an integer 1..${CURRENT_CONFIG_VERSION}`,
    );
  }
  let out = doc;
  while ((version as number) < CURRENT_CONFIG_VERSION) {
    out = MIGRATIONS[version as number](out);
    version = (version as number) + 1;
    out.version = version;
  }
  return out;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(doc: unknown, path: PropertyKey[]): unknown {
  let v: unknown = doc;
  for (const k of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function formatPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>(
      (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)),
      "",
    ) || "(root)"
  );
}

/** The variable that set `path` or one of the objects above it, for an error message. */
function variableFor(path: string, setBy: Map<string, string> | undefined): string | undefined {
  if (setBy === undefined) return undefined;
  for (const [p, v] of setBy) {
    if (path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`)) return v;
  }
  return undefined;
}

/**
 * Validates a parsed document; errors name each field path, the value found and what was expected, and
 * the environment variable when one set the field (`setBy`, from applyEnvOverrides).
 */
export function validateConfig<S extends z.ZodType>(
  schema: S,
  doc: unknown,
  source: string,
  setBy?: Map<string, string>,
): z.infer<S> {
  const result = schema.safeParse(doc);
  if (result.success) return result.data;
  const problems: string[] = [];
  for (const i of result.error.issues) {
    if (i.code === "unrecognized_keys") {
      // one line per unknown field, named by its own path (zod reports them at the enclosing object)
      for (const k of i.keys) {
        const path = [...i.path, k];
        const p = formatPath(path);
        const v = variableFor(p, setBy);
        problems.push(
          `${p}: got ${show(valueAt(doc, path))}, expected no such field${v ? ` (set by ${v})` : ""}`,
        );
      }
      continue;
    }
    const p = formatPath(i.path);
    const v = variableFor(p, setBy);
    problems.push(
      `${p}: got ${show(valueAt(doc, i.path))}, expected ${i.message}${v ? ` (set by ${v})` : ""}`,
    );
  }
  throw new ConfigError("CONFIG_INVALID", `invalid configuration in ${source}:`, problems, { source });
}

/** Reads a YAML file, migrates it to the current version, applies environment overrides and validates. */
export function loadConfigFile<S extends z.ZodType>(
  schema: S,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  return parseConfigText(schema, readConfigText(path), path, env);
}

/** Parses YAML text into its top-level mapping, with the alias limit; errors name `source`. */
export function parseYamlMapping(text: string, source: string): Record<string, unknown> {
  const parsed = parseDocument(text, { prettyErrors: true });
  if (parsed.errors.length > 0) {
    throw new ConfigError(
      "CONFIG_INVALID",
      `${source} is not valid YAML:`,
      parsed.errors.map((e) => firstLine(e.message)),
    );
  }
  let doc: unknown;
  try {
    doc = parsed.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    // the yaml library's guard against alias bombs, or an alias to nothing
    throw new ConfigError(
      "CONFIG_INVALID",
      `${source} is not acceptable YAML: ${firstLine((e as Error).message)}`,
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ConfigError("CONFIG_INVALID", `${source}: expected a YAML mapping at the top level`);
  }
  return doc as Record<string, unknown>;
}

export function parseConfigText<S extends z.ZodType>(
  schema: S,
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = {},
): z.infer<S> {
  const migrated = migrate(parseYamlMapping(text, source), source);
  const setBy = new Map<string, string>();
  const overridden = applyEnvOverrides(migrated, env, setBy);
  return validateConfig(schema, overridden, source, setBy);
}

/** Reads a configuration file's text; a missing or unreadable file is CONFIG_UNREADABLE (exit 2). */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError("CONFIG_UNREADABLE", `cannot read configuration ${path}: ${(e as Error).message}`);
  }
}
