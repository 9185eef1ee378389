import { createHash } from "node:crypto";
import * as ed from "@noble/ed25519";
import type { Ed25519 } from "./ed25519.js";

// noble's synchronous API needs a SHA-512; node's is the natural one to give it.
ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash("sha512").update(message).digest());

/** The audited pure-JavaScript implementation, for independent checks and platforms without OpenSSL. */
export class NobleEd25519 implements Ed25519 {
  readonly name = "@noble/ed25519";

  publicKey(seed: Uint8Array): Uint8Array {
    return ed.getPublicKey(seed);
  }

  sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
    return ed.sign(message, seed);
  }

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    try {
      return ed.verify(signature, message, publicKey);
    } catch {
      return false;
    }
  }
}
