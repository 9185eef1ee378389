/**
 * ed25519 behind one interface. Keys are 32-byte seeds (RFC 8032 "private key") and 32-byte public keys;
 * signatures are 64 bytes. All implementations produce identical signatures (ed25519 is deterministic) and
 * accept each other's: see ed25519.test.ts on the RFC 8032 vectors.
 */
export interface Ed25519 {
  readonly name: string;
  publicKey(seed: Uint8Array): Uint8Array;
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
