import { createHash, type Hash } from "node:crypto";

/**
 * SHA-256 over the RFC 8785 text of a JSON value, streamed: the same digest as protocol/hash.ts
 * hashJson, without building the whole text or going through the generic canonicaliser, which takes
 * seconds on a ledger with 100 000 accounts. RFC 8785 serialises strings and numbers exactly as
 * ECMAScript's JSON.stringify does and sorts keys by UTF-16 code units (JavaScript's default sort), so
 * only the key order needs doing by hand. The equivalence is tested against canonicalJson.
 */
export function hashCanonical(value: unknown): string {
  const w = new Writer(createHash("sha256"));
  w.value(value, "$");
  w.flush();
  return w.hash.digest("hex");
}

class Writer {
  readonly hash: Hash;
  private buf = "";

  constructor(hash: Hash) {
    this.hash = hash;
  }

  private put(s: string): void {
    this.buf += s;
    if (this.buf.length > 65_536) this.flush();
  }

  flush(): void {
    if (this.buf.length) this.hash.update(this.buf, "utf8");
    this.buf = "";
  }

  value(v: unknown, path: string): void {
    switch (typeof v) {
      case "string":
      case "boolean":
        this.put(JSON.stringify(v));
        return;
      case "number":
        if (!Number.isFinite(v)) throw new TypeError(`${path}: non-finite number`);
        this.put(JSON.stringify(v));
        return;
      case "object": {
        if (v === null) {
          this.put("null");
          return;
        }
        if (Array.isArray(v)) {
          this.put("[");
          for (let i = 0; i < v.length; i++) {
            if (i) this.put(",");
            this.value(v[i], path);
          }
          this.put("]");
          return;
        }
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o).sort();
        this.put("{");
        let first = true;
        for (const k of keys) {
          const x = o[k];
          if (x === undefined) throw new TypeError(`${path}.${k}: undefined`);
          if (!first) this.put(",");
          first = false;
          this.put(JSON.stringify(k));
          this.put(":");
          this.value(x, path);
        }
        this.put("}");
        return;
      }
      default:
        throw new TypeError(`${path}: ${typeof v} is not JSON`);
    }
  }
}
