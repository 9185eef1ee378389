import { randomBytes } from "node:crypto";
import nacl from "tweetnacl";
import { fromHex, toHex } from "../bytes.js";
import { ProtocolError } from "../errors.js";

/**
 * Confidential bodies: NaCl box (x25519 + XSalsa20-Poly1305). Each identity has an x25519 key pair of its
 * own beside its ed25519 signing key; the certificate carries the x25519 public key ("boxKey"), so the CA's
 * signature binds it to the identity. The keys are independent (no ed25519-to-x25519 conversion).
 */
export interface BoxKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface SealedBox {
  /** x25519 public key of the sender, hex */
  from: string;
  /** 24-byte nonce, hex */
  nonce: string;
  /** ciphertext with its 16-byte authenticator, base64 */
  ct: string;
}

export function boxKeyPairFromSecret(secretKey: Uint8Array): BoxKeyPair {
  return nacl.box.keyPair.fromSecretKey(secretKey);
}

export function newBoxKeyPair(random: (n: number) => Uint8Array = randomBytes): BoxKeyPair {
  return nacl.box.keyPair.fromSecretKey(new Uint8Array(random(32)));
}

export function seal(
  plaintext: Uint8Array,
  recipientPublicKey: Uint8Array,
  sender: BoxKeyPair,
  random: (n: number) => Uint8Array = randomBytes,
): SealedBox {
  const nonce = new Uint8Array(random(nacl.box.nonceLength));
  const ct = nacl.box(plaintext, nonce, recipientPublicKey, sender.secretKey);
  return { from: toHex(sender.publicKey), nonce: toHex(nonce), ct: Buffer.from(ct).toString("base64") };
}

export function open(sealed: SealedBox, recipient: BoxKeyPair, expectedSender?: Uint8Array): Uint8Array {
  const from = fromHex(sealed.from);
  const nonce = fromHex(sealed.nonce);
  if (from?.length !== 32 || nonce?.length !== nacl.box.nonceLength || typeof sealed.ct !== "string") {
    throw new ProtocolError("MALFORMED", "sealed box has a malformed sender key, nonce or ciphertext");
  }
  if (expectedSender !== undefined && toHex(expectedSender) !== sealed.from) {
    throw new ProtocolError("DECRYPT_FAILED", "sealed box is not from the expected sender");
  }
  const plain = nacl.box.open(
    new Uint8Array(Buffer.from(sealed.ct, "base64")),
    nonce,
    from,
    recipient.secretKey,
  );
  if (plain === null) throw new ProtocolError("DECRYPT_FAILED", "sealed box failed authentication");
  return plain;
}
