import canonicalizeJson from "canonicalize";
import { utf8 } from "./bytes.js";
import { ProtocolError } from "./errors.js";

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a value. Only JSON data is allowed: a value that JCS
 * cannot represent (undefined, a function, a non-finite number, a bigint) is a programming error here.
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, "$");
  const text = canonicalizeJson(value);
  if (text === undefined) throw new ProtocolError("MALFORMED", "value has no canonical JSON form");
  return text;
}

/** Bytes that get signed: an ASCII domain-separation prefix (ending in a newline) then the JCS text. */
export function signingBytes(domain: string, value: unknown): Uint8Array {
  return utf8(`${domain}\n${canonicalJson(value)}`);
}

function assertJsonValue(v: unknown, path: string): void {
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(v)) throw new ProtocolError("MALFORMED", `${path}: non-finite number`, { path });
      return;
    case "object":
      if (v === null) return;
      if (Array.isArray(v)) {
        v.forEach((x, i) => {
          assertJsonValue(x, `${path}[${i}]`);
        });
        return;
      }
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) throw new ProtocolError("MALFORMED", `${path}.${k}: undefined`, { path });
        assertJsonValue(x, `${path}.${k}`);
      }
      return;
    default:
      throw new ProtocolError("MALFORMED", `${path}: ${typeof v} is not JSON`, { path });
  }
}
