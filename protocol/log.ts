/**
 * Structured, namespaced logging to stderr, one line per event, journald-friendly: with
 * GRIDLET_LOG_FORMAT=json (or when JOURNAL_STREAM is set) each line is a JSON object, otherwise
 * `LEVEL namespace message key=value ...`. GRIDLET_LOG_LEVEL is trace|debug|info|warn|error|silent;
 * trace shows wire bytes (serial frames, MQTT payloads) with their direction.
 */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, silent: 5 };

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

function envLevel(): LogLevel {
  const v = process.env.GRIDLET_LOG_LEVEL;
  return v !== undefined && v in ORDER ? (v as LogLevel) : "info";
}

export function createLogger(
  namespace: string,
  opts: { level?: LogLevel; json?: boolean; sink?: LogSink } = {},
): Logger {
  const level = opts.level ?? envLevel();
  const json =
    opts.json ?? (process.env.GRIDLET_LOG_FORMAT === "json" || process.env.JOURNAL_STREAM !== undefined);
  const sink = opts.sink ?? { write: (line: string) => process.stderr.write(`${line}\n`) };
  const emit = (l: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] < ORDER[level]) return;
    if (json) {
      sink.write(JSON.stringify({ level: l, ns: namespace, msg, ...fields }, bigintSafe));
    } else {
      const kv = fields
        ? Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, bigintSafe)}`)
            .join(" ")
        : "";
      sink.write(`${l.toUpperCase().padEnd(5)} ${namespace} ${msg}${kv ? ` ${kv}` : ""}`);
    }
  };
  return {
    trace: (m, f) => emit("trace", m, f),
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (ns) => createLogger(`${namespace}:${ns}`, { level, json, sink }),
    enabled: (l) => ORDER[l] >= ORDER[level],
  };
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

export const silentLogger: Logger = createLogger("silent", { level: "silent" });
