/**
 * Structured, namespaced logging to stderr, one line per event.
 *
 * - Text (the default): `2026-01-31T12:00:00.123Z WARN  namespace message key=value ...`.
 * - JSON lines with GRIDLET_LOG_FORMAT=json: `{"time":...,"level":"warn","ns":...,"msg":...,...}`.
 * - Under systemd, when stderr is the journal stream named by JOURNAL_STREAM ("device:inode" of the
 *   stream, systemd.exec(5); compared with fd 2 so that a child whose stderr is a pipe does not inherit the
 *   behaviour): each line starts with its sd-daemon(3) priority, `<4>{"level":"warn",...}`, so that
 *   `journalctl -p warning` selects it, and carries no timestamp (journald stamps lines itself). JSON is
 *   the default there; GRIDLET_LOG_FORMAT=text gives `<4>WARN  namespace message ...`.
 *
 * GRIDLET_LOG_LEVEL is trace|debug|info|warn|error|silent (default info); trace shows wire bytes (serial
 * frames, MQTT payloads) with their direction. GRIDLET_LOG_FORMAT is text|json. Any other value is a
 * configuration error (CONFIG_INVALID, exit 2); each program's entry calls `checkLogEnv` before anything
 * runs.
 */
import { fstatSync } from "node:fs";
import { errorFamily, type FamilyError } from "./errors.js";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, silent: 5 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

/** sd-daemon(3) priorities: 7 debug, 6 info, 4 warning, 3 err. */
const PRIORITY: Record<Exclude<LogLevel, "silent">, number> = {
  trace: 7,
  debug: 7,
  info: 6,
  warn: 4,
  error: 3,
};

export interface Logger {
  trace(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(namespace: string): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LogSink {
  write(line: string): void;
}

export interface LogSettings {
  level: LogLevel;
  /** JSON lines instead of text */
  json: boolean;
  /** stderr is journald's stream: an sd-daemon priority prefix and no timestamp on each line */
  journal: boolean;
}

/** A bad GRIDLET_LOG_LEVEL or GRIDLET_LOG_FORMAT: named with its value, exit 2 like any configuration error. */
export type LogSettingErrorCode = "CONFIG_INVALID";
export const { Error: LogSettingError } = errorFamily<LogSettingErrorCode>("LogSettingError");
export type LogSettingError = FamilyError<LogSettingErrorCode>;

/** True when fd 2 is the journal stream that systemd named in JOURNAL_STREAM ("device:inode"). */
export function stderrIsJournal(
  env: NodeJS.ProcessEnv,
  statFd: (fd: number) => { dev: number; ino: number } = fstatSync,
): boolean {
  const js = env.JOURNAL_STREAM;
  if (js === undefined) return false;
  const m = /^(\d+):(\d+)$/.exec(js);
  if (m === null) return false;
  try {
    const st = statFd(2);
    return st.dev === Number(m[1]) && st.ino === Number(m[2]);
  } catch {
    return false;
  }
}

/**
 * Reads GRIDLET_LOG_LEVEL and GRIDLET_LOG_FORMAT; throws LogSettingError naming a wrong one. Under
 * journald the format defaults to JSON (its fields survive into `journalctl -o cat`).
 */
export function readLogSettings(env: NodeJS.ProcessEnv, journal = stderrIsJournal(env)): LogSettings {
  const level = env.GRIDLET_LOG_LEVEL;
  if (level !== undefined && level !== "" && !(level in ORDER)) {
    throw new LogSettingError(
      "CONFIG_INVALID",
      `GRIDLET_LOG_LEVEL: got ${JSON.stringify(level)}, expected one of ${LOG_LEVELS.join(", ")}`,
      { variable: "GRIDLET_LOG_LEVEL", value: level },
    );
  }
  const format = env.GRIDLET_LOG_FORMAT;
  if (format !== undefined && format !== "" && format !== "json" && format !== "text") {
    throw new LogSettingError(
      "CONFIG_INVALID",
      `GRIDLET_LOG_FORMAT: got ${JSON.stringify(format)}, expected text or json`,
      { variable: "GRIDLET_LOG_FORMAT", value: format },
    );
  }
  return {
    level: level === undefined || level === "" ? "info" : (level as LogLevel),
    json: format === "json" || (journal && format !== "text"),
    journal,
  };
}

/** For each program's entry point: the message of a wrong log setting, or undefined when all is well. */
export function checkLogEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    readLogSettings(env, false);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Loggers are also made when modules load, before an entry point could refuse a wrong setting: those
 * fall back to the defaults, and the entry point's `checkLogEnv` then exits 2.
 */
function settingsOrDefault(env: NodeJS.ProcessEnv): LogSettings {
  try {
    return readLogSettings(env);
  } catch {
    return { level: "info", json: false, journal: false };
  }
}

export interface LoggerOptions {
  level?: LogLevel;
  json?: boolean;
  journal?: boolean;
  sink?: LogSink;
  /** wall clock for the timestamps (ms since the epoch) */
  now?: () => number;
}

export function createLogger(namespace: string, opts: LoggerOptions = {}): Logger {
  const fromEnv =
    opts.level === undefined || opts.json === undefined || opts.journal === undefined
      ? settingsOrDefault(process.env)
      : undefined;
  const level = opts.level ?? fromEnv!.level;
  const json = opts.json ?? fromEnv!.json;
  const journal = opts.journal ?? fromEnv!.journal;
  const sink = opts.sink ?? { write: (line: string) => process.stderr.write(`${line}\n`) };
  const now = opts.now ?? Date.now;
  const emit = (l: Exclude<LogLevel, "silent">, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] < ORDER[level]) return;
    // journald stamps each line itself; elsewhere the line carries its own time
    const prefix = journal ? `<${PRIORITY[l]}>` : "";
    const time = journal ? undefined : new Date(now()).toISOString();
    if (json) {
      sink.write(`${prefix}${JSON.stringify({ time, level: l, ns: namespace, msg, ...fields }, bigintSafe)}`);
      return;
    }
    const kv = fields
      ? Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, bigintSafe)}`)
          .join(" ")
      : "";
    const head = time === undefined ? prefix : `${time} `;
    sink.write(`${head}${l.toUpperCase().padEnd(5)} ${namespace} ${msg}${kv ? ` ${kv}` : ""}`);
  };
  return {
    trace: (m, f) => emit("trace", m, f),
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (ns) => createLogger(`${namespace}:${ns}`, { level, json, journal, sink, now }),
    enabled: (l) => ORDER[l] >= ORDER[level],
  };
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

export const silentLogger: Logger = createLogger("silent", { level: "silent", json: false, journal: false });

/**
 * A condition that repeats (a silent meter, a port that keeps dropping, a broker that stays down) is
 * logged when it starts and when a kind of trouble appears that this episode has not shown yet, and when
 * it ends; never on each repetition, nor when two kinds alternate (a timeout, then a closed port, then a
 * timeout again). `enter` says whether the caller should log; `leave` ends the episode and returns how many
 * times it occurred (undefined when none was active).
 */
export class ConditionTracker<S extends string = string> {
  private readonly active = new Map<string, { seen: Set<S>; last: S; repeats: number }>();

  /** True when `key` has not been in `state` during its current episode (log it); false for a repeat. */
  enter(key: string, state: S): boolean {
    const cur = this.active.get(key);
    if (cur === undefined) {
      this.active.set(key, { seen: new Set([state]), last: state, repeats: 1 });
      return true;
    }
    cur.repeats += 1;
    cur.last = state;
    if (cur.seen.has(state)) return false;
    cur.seen.add(state);
    return true;
  }

  /** Ends the episode of `key`: the number of times its condition occurred, or undefined if none. */
  leave(key: string): number | undefined {
    const cur = this.active.get(key);
    if (cur === undefined) return undefined;
    this.active.delete(key);
    return cur.repeats;
  }

  /** The latest state of `key`'s episode, if one is active. */
  state(key: string): S | undefined {
    return this.active.get(key)?.last;
  }
}
