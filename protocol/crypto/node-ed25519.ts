import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import type { Ed25519 } from "./ed25519.js";

// DER prefixes that wrap a raw 32-byte ed25519 key as PKCS#8 and SPKI (RFC 8410).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/**
 * node's built-in (OpenSSL) ed25519: the fastest verifier available here, used on hot paths. Parsed
 * public keys are cached because building a KeyObject costs about as much as a verification.
 */
export class NodeEd25519 implements Ed25519 {
  readonly name = "node:crypto";
  private readonly publicKeys = new Map<string, KeyObject>();
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly maxCached: number;

  constructor(maxCached = 4096) {
    this.maxCached = maxCached;
  }

  publicKey(seed: Uint8Array): Uint8Array {
    const der = createPublicKey(privateKeyObject(seed)).export({ format: "der", type: "spki" });
    return new Uint8Array(der.subarray(SPKI_PREFIX.length));
  }

  sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.privateKeyObject(seed)));
  }

  private privateKeyObject(seed: Uint8Array): KeyObject {
    // A process signs with one or a few keys; parsing the seed each time would dominate the cost.
    const id = Buffer.from(seed).toString("hex");
    let key = this.privateKeys.get(id);
    if (key === undefined) {
      key = privateKeyObject(seed);
      if (this.privateKeys.size >= 64) this.privateKeys.clear();
      this.privateKeys.set(id, key);
    }
    return key;
  }

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      return verify(null, message, this.publicKeyObject(publicKey), signature);
    } catch {
      // OpenSSL refuses some malformed points outright; that is simply an invalid signature.
      return false;
    }
  }

  private publicKeyObject(publicKey: Uint8Array): KeyObject {
    const id = Buffer.from(publicKey).toString("hex");
    let key = this.publicKeys.get(id);
    if (key === undefined) {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
      if (this.publicKeys.size >= this.maxCached) this.publicKeys.clear();
      this.publicKeys.set(id, key);
    }
    return key;
  }
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError("ed25519 seed must be 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}
