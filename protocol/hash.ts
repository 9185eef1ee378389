import { hash } from "node:crypto";
import { canonicalJson } from "./canonical.js";

// crypto.hash (one shot, no Hash object) is several times faster than createHash on the short inputs
// hashed most often here: Merkle leaves of vote batches, signing bytes, block headers.

export function sha256(data: Uint8Array | string): Uint8Array {
  // "binary" (latin1) maps each byte to one character, and is faster here than asking for a Buffer (Node 20)
  const s = hash("sha256", data, "binary");
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function sha256Hex(data: Uint8Array | string): string {
  return hash("sha256", data, "hex");
}

/** SHA-256 over the RFC 8785 text of a value: the hash of record for JSON objects. */
export function hashJson(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
