import { ProtocolError } from "./errors.js";

/**
 * A JSON parser for signed messages that accepts one reading of the bytes only (RFC 8259 I-JSON,
 * RFC 7493, and what RFC 8785 needs to reduce to integers):
 * - bytes must be valid UTF-8 (decoded with `fatal: true`; a byte-order mark is refused, RFC 8259 §8.1);
 * - no duplicate object keys (RFC 7493 §2.3: "last wins" lets two verifiers see two messages);
 * - no lone surrogates, raw or escaped (RFC 7493 §2.1);
 * - no `-0` (RFC 8785 writes it as `0`, so it would sign another value than the one parsed);
 * - numbers are integers within ±(2⁵³ − 1), written without fraction or exponent, when `integersOnly`;
 * - nesting at most `maxDepth` arrays and objects, so that a hostile message cannot exhaust the stack.
 * Every refusal is a ProtocolError MALFORMED naming the problem and its offset.
 */
export interface StrictJsonOptions {
  /** deepest nesting of arrays and objects accepted (the top-level object counts 1) */
  maxDepth: number;
  /** refuse numbers with a fraction or an exponent, and integers beyond Number.MAX_SAFE_INTEGER */
  integersOnly: boolean;
}

export const ENVELOPE_JSON: StrictJsonOptions = { maxDepth: 16, integersOnly: true };

const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly: invalid sequences (overlong, surrogates, truncated) are refused, not replaced. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new ProtocolError("MALFORMED", "not valid UTF-8", { problem: "utf8" });
  }
}

export function parseStrictJson(data: Uint8Array | string, opts: StrictJsonOptions = ENVELOPE_JSON): unknown {
  const text = typeof data === "string" ? data : decodeUtf8Strict(data);
  // decoded bytes hold no lone surrogates (UTF-8 cannot encode them); a string given as such might
  const p = new Parser(text, opts, typeof data === "string");
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i < text.length) p.fail(`unexpected ${p.describeAt()} after the value`, "syntax");
  return v;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER).length;

class Parser {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly o: StrictJsonOptions,
    private readonly rawSurrogatesPossible: boolean,
  ) {}

  fail(message: string, problem: string): never {
    throw new ProtocolError("MALFORMED", `${message} (at offset ${this.i})`, { problem, offset: this.i });
  }

  describeAt(): string {
    if (this.i >= this.s.length) return "end of input";
    return JSON.stringify(this.s[this.i]);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.i++;
    }
  }

  value(depth: number): unknown {
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal("true", true);
      case 0x66: // f
        return this.literal("false", false);
      case 0x6e: // n
        return this.literal("null", null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(`unexpected ${this.describeAt()}`, "syntax");
    }
  }

  private enter(depth: number): void {
    if (depth > this.o.maxDepth) this.fail(`nesting deeper than ${this.o.maxDepth}`, "depth");
  }

  private object(depth: number): Record<string, unknown> {
    this.enter(depth);
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== 0x22)
        this.fail(`expected a key, found ${this.describeAt()}`, "syntax");
      const at = this.i;
      const key = this.string();
      if (Object.hasOwn(out, key)) {
        this.i = at;
        this.fail(`duplicate key ${JSON.stringify(key)}`, "duplicate-key");
      }
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.fail(`expected ":", found ${this.describeAt()}`, "syntax");
      this.i++;
      this.ws();
      const v = this.value(depth);
      // a key "__proto__" must become an own property, as JSON.parse makes it, not the prototype
      if (key === "__proto__")
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true });
      else out[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === 0x7d) return out;
      if (c !== 0x2c) {
        this.i--;
        this.fail(`expected "," or "}", found ${this.describeAt()}`, "syntax");
      }
      this.ws();
    }
  }

  private array(depth: number): unknown[] {
    this.enter(depth);
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        this.i--;
        this.fail(`expected "," or "]", found ${this.describeAt()}`, "syntax");
      }
      this.ws();
    }
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) this.fail(`unexpected ${this.describeAt()}`, "syntax");
    this.i += word.length;
    return v;
  }

  private string(): string {
    const s = this.s;
    const start = ++this.i;
    // fast path: no escapes
    for (;;) {
      if (this.i >= s.length) this.fail("unterminated string", "syntax");
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        const out = s.slice(start, this.i++);
        if (this.rawSurrogatesPossible) this.checkSurrogates(out, start);
        return out;
      }
      if (c === 0x5c) break;
      if (c < 0x20) this.fail("control character in a string", "syntax");
      this.i++;
    }
    let out = s.slice(start, this.i);
    for (;;) {
      if (this.i >= s.length) this.fail("unterminated string", "syntax");
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        this.checkSurrogates(out, start);
        return out;
      }
      if (c < 0x20) this.fail("control character in a string", "syntax");
      if (c !== 0x5c) {
        out += s[this.i++];
        continue;
      }
      const e = s[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = s.slice(this.i, this.i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("bad \\u escape", "syntax");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.i += 4;
          break;
        }
        default:
          this.i -= 2;
          this.fail("bad escape in a string", "syntax");
      }
    }
  }

  private checkSurrogates(v: string, start: number): void {
    if (LONE_SURROGATE.test(v)) {
      this.i = start - 1;
      this.fail("lone surrogate in a string", "surrogate");
    }
  }

  private number(): number {
    const s = this.s;
    const start = this.i;
    if (s.charCodeAt(this.i) === 0x2d) this.i++;
    const intStart = this.i;
    const first = s.charCodeAt(this.i);
    if (first === 0x30) this.i++;
    else if (first >= 0x31 && first <= 0x39) while (isDigit(s.charCodeAt(this.i))) this.i++;
    else this.fail("a number needs digits", "syntax");
    const intDigits = this.i - intStart;
    let integer = true;
    if (s.charCodeAt(this.i) === 0x2e) {
      integer = false;
      this.i++;
      if (!isDigit(s.charCodeAt(this.i))) this.fail("a fraction needs digits", "syntax");
      while (isDigit(s.charCodeAt(this.i))) this.i++;
    }
    const e = s.charCodeAt(this.i);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      this.i++;
      const sign = s.charCodeAt(this.i);
      if (sign === 0x2b || sign === 0x2d) this.i++;
      if (!isDigit(s.charCodeAt(this.i))) this.fail("an exponent needs digits", "syntax");
      while (isDigit(s.charCodeAt(this.i))) this.i++;
    }
    const text = s.slice(start, this.i);
    const v = Number(text);
    if (Object.is(v, -0)) {
      this.i = start;
      this.fail(`${text} is negative zero`, "negative-zero");
    }
    if (this.o.integersOnly) {
      if (!integer) {
        this.i = start;
        this.fail(`${text} is not an integer (signed bodies hold integers only)`, "non-integer");
      }
      if (intDigits >= SAFE_DIGITS && !Number.isSafeInteger(v)) {
        this.i = start;
        this.fail(`${text} is beyond ±(2^53 − 1)`, "unsafe-integer");
      }
    } else if (!Number.isFinite(v)) {
      this.i = start;
      this.fail(`${text} is out of range`, "non-finite");
    }
    return v;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
