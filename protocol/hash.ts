import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.js";

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 over the RFC 8785 text of a value: the hash of record for JSON objects. */
export function hashJson(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
