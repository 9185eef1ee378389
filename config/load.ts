import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { z } from "zod";
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

/** Environment overrides: GRIDLET_CFG__MQTT__URL=mqtt://x sets mqtt.url; values are read as YAML scalars. */
export const ENV_PREFIX = "GRIDLET_CFG__";

export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const path = name
      .slice(ENV_PREFIX.length)
      .split("__")
      .map((p) => p.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let node: Record<string, unknown> = doc;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = parseDocument(raw).toJS();
  }
  return doc;
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

function formatPath(path: PropertyKey[]): string {
  return (
    path.reduce<string>(
      (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)),
      "",
    ) || "(root)"
  );
}

/** Validates a parsed document; errors name each field path, the value found and what was expected. */
export function validateConfig<S extends z.ZodType>(schema: S, doc: unknown, source: string): z.infer<S> {
  const result = schema.safeParse(doc);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `${formatPath(i.path)}: got ${show(valueAt(doc, i.path))}, expected ${i.message}`,
  );
  throw new ConfigError("CONFIG_INVALID", `invalid configuration in ${source}:`, problems, { source });
}

/** Reads a YAML file, migrates it to the current version, applies environment overrides and validates. */
export function loadConfigFile<S extends z.ZodType>(
  schema: S,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError("CONFIG_UNREADABLE", `cannot read configuration ${path}: ${(e as Error).message}`);
  }
  return parseConfigText(schema, text, path, env);
}

export function parseConfigText<S extends z.ZodType>(
  schema: S,
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = {},
): z.infer<S> {
  const parsed = parseDocument(text, { prettyErrors: true });
  if (parsed.errors.length > 0) {
    throw new ConfigError(
      "CONFIG_INVALID",
      `${source} is not valid YAML:`,
      parsed.errors.map((e) => e.message.split("\n")[0]),
    );
  }
  const doc = parsed.toJS() as unknown;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ConfigError("CONFIG_INVALID", `${source}: expected a YAML mapping at the top level`);
  }
  const migrated = migrate(doc as Record<string, unknown>, source);
  return validateConfig(schema, applyEnvOverrides(migrated, env), source);
}
