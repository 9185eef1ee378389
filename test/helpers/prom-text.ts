/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (prometheus.io, "Exposition formats"),
 * written for the tests: it throws on anything a Prometheus server would refuse or misread, so that a
 * test proves the endpoint's text is valid rather than that it contains a substring.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string | undefined;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** As Prometheus reads it (Go's strconv.ParseFloat): NaN and Inf in any case, e.g. prom-client's "Nan". */
function parseValue(s: string, line: number): number {
  const lower = s.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf" || lower === "+infinity" || lower === "infinity")
    return Number.POSITIVE_INFINITY;
  if (lower === "-inf" || lower === "-infinity") return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value "${s}"`);
  return Number(s);
}

/** Parses `{a="x",b="y"}` starting at `i` (the brace); returns the labels and the index after `}`. */
function parseLabels(text: string, i: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i += 1;
  while (text[i] !== "}") {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (name in labels) throw new Error(`line ${line}: label "${name}" twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let value = "";
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === "\\") {
        const e = text[j + 1];
        if (e === "n") value += "\n";
        else if (e === "\\" || e === '"') value += e;
        else throw new Error(`line ${line}: bad escape \\${e}`);
        j += 2;
      } else {
        value += c;
        j += 1;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i += 1;
    else if (text[i] !== "}") throw new Error(`line ${line}: expected "," or "}" after a label`);
  }
  return [labels, i + 1];
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(sample);
  if (direct !== undefined) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f !== undefined && (f.type === "histogram" || f.type === "summary")) return f;
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, PromFamily>();
  const seenSeries = new Set<string>();
  let current: PromFamily | undefined;
  const finished = new Set<string>();
  text
    .slice(0, -1)
    .split("\n")
    .forEach((raw, index) => {
      const line = index + 1;
      if (raw.trim() === "") return;
      if (raw.startsWith("#")) {
        const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw);
        if (m === null) return; // a plain comment
        const [, kind, name, rest] = m;
        if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
        let f = families.get(name);
        if (f === undefined) {
          if (finished.has(name)) throw new Error(`line ${line}: family ${name} appears twice`);
          f = { name, type: "untyped", help: undefined, samples: [] };
          families.set(name, f);
        } else if (f.samples.length > 0)
          throw new Error(`line ${line}: ${kind} for ${name} after its samples`);
        if (kind === "TYPE") {
          if (!TYPES.has(rest ?? "")) throw new Error(`line ${line}: unknown type "${rest}"`);
          f.type = rest as PromFamily["type"];
        } else f.help = rest ?? "";
        if (current !== undefined && current !== f) finished.add(current.name);
        current = f;
        return;
      }
      const nameEnd = raw.search(/[{ ]/);
      if (nameEnd < 0) throw new Error(`line ${line}: a sample needs a value`);
      const name = raw.slice(0, nameEnd);
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
      let labels: Record<string, string> = {};
      let i = nameEnd;
      if (raw[i] === "{") [labels, i] = parseLabels(raw, i, line);
      const parts = raw.slice(i).trim().split(/ +/);
      if (parts.length < 1 || parts.length > 2 || parts[0] === "")
        throw new Error(`line ${line}: expected "value [timestamp]"`);
      const value = parseValue(parts[0], line);
      if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`line ${line}: bad timestamp`);
      let f = familyOf(name, families);
      if (f === undefined) {
        f = { name, type: "untyped", help: undefined, samples: [] };
        families.set(name, f);
      }
      if (finished.has(f.name)) throw new Error(`line ${line}: samples of ${f.name} are not together`);
      if (current !== undefined && current !== f) finished.add(current.name);
      current = f;
      const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
      if (seenSeries.has(key)) throw new Error(`line ${line}: series ${key} twice`);
      seenSeries.add(key);
      if (f.type === "counter" && !(value >= 0)) throw new Error(`line ${line}: counter ${name} is ${value}`);
      f.samples.push({ name, labels, value });
    });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/** Buckets cumulative, `le` ascending, a +Inf bucket equal to _count, per label set. */
function checkHistogram(f: PromFamily): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}_bucket without le`);
      g.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else throw new Error(`histogram ${f.name} has a sample ${s.name}`);
  }
  for (const g of groups.values()) {
    if (g.count === undefined || g.sum === undefined)
      throw new Error(`histogram ${f.name} lacks _count or _sum`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i][0] > g.buckets[i - 1][0])) throw new Error(`histogram ${f.name}: le not ascending`);
      if (g.buckets[i][1] < g.buckets[i - 1][1])
        throw new Error(`histogram ${f.name}: buckets not cumulative`);
    }
    const inf = g.buckets.at(-1);
    if (inf === undefined || inf[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`histogram ${f.name}: no +Inf bucket`);
    if (inf[1] !== g.count) throw new Error(`histogram ${f.name}: +Inf bucket ${inf[1]} != count ${g.count}`);
  }
}

/** The value of one series, or undefined. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values())
    for (const s of f.samples)
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
  return undefined;
}
