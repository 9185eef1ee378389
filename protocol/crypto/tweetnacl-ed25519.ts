import nacl from "tweetnacl";
import type { Ed25519 } from "./ed25519.js";

/** tweetnacl's ed25519: slow, kept for the benchmark and as a third opinion in tests. */
export class TweetnaclEd25519 implements Ed25519 {
  readonly name = "tweetnacl";

  publicKey(seed: Uint8Array): Uint8Array {
    return nacl.sign.keyPair.fromSeed(seed).publicKey;
  }

  sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
    return nacl.sign.detached(message, nacl.sign.keyPair.fromSeed(seed).secretKey);
  }

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    return nacl.sign.detached.verify(message, signature, publicKey);
  }
}
