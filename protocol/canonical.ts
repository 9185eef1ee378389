import canonicalizeJson from "canonicalize";
import { utf8 } from "./bytes.js";
import { ProtocolError } from "./errors.js";

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a value. Only JSON data is allowed: a value that JCS
 * cannot represent (undefined, a function, a non-finite number, a bigint) is a programming error here.
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, () => "$");
  const text = canonicalizeJson(value);
  if (text === undefined) throw new ProtocolError("MALFORMED", "value has no canonical JSON form");
  return text;
}

/** Bytes that get signed: an ASCII domain-separation prefix (ending in a newline) then the JCS text. */
export function signingBytes(domain: string, value: unknown): Uint8Array {
  return utf8(`${domain}\n${canonicalJson(value)}`);
}

function assertJsonValue(v: unknown, path: () => string): void {
  // The path is built only when something is wrong: this runs on every field of every signed message.
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(v)) fail(`${path()}: non-finite number`, path);
      return;
    case "object":
      if (v === null) return;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) assertJsonValue(v[i], () => `${path()}[${i}]`);
        return;
      }
      for (const k in v as Record<string, unknown>) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) fail(`${path()}.${k}: undefined`, path);
        assertJsonValue(x, () => `${path()}.${k}`);
      }
      return;
    default:
      fail(`${path()}: ${typeof v} is not JSON`, path);
  }
}

function fail(message: string, path: () => string): never {
  throw new ProtocolError("MALFORMED", message, { path: path() });
}
