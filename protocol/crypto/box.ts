import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
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

/** PKCS #8 wrapping of a raw 32-byte X25519 private key (RFC 8410): this prefix, then the key. */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/**
 * The key pair of an x25519 secret, the same as `nacl.box.keyPair.fromSecretKey` gives (both clamp the
 * scalar as RFC 7748 says), but through OpenSSL: tweetnacl's scalar multiplication in JavaScript took
 * about 17 ms the first time in each process, which every agent and aggregator paid at start.
 */
export function boxKeyPairFromSecret(secretKey: Uint8Array): BoxKeyPair {
  if (secretKey.length !== nacl.box.secretKeyLength)
    throw new ProtocolError("MALFORMED", `an x25519 secret key has 32 bytes, not ${secretKey.length}`);
  const key = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, secretKey]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), secretKey: new Uint8Array(secretKey) };
}

export function newBoxKeyPair(random: (n: number) => Uint8Array = randomBytes): BoxKeyPair {
  return boxKeyPairFromSecret(new Uint8Array(random(32)));
}

/** Shared keys kept per own secret key and peer: at most this many peers each, then the map starts over. */
const SHARED_KEYS_PER_SECRET = 4096;
const sharedKeys = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

/**
 * The x25519 shared key of an own secret and a peer's public key (`nacl.box.before`), kept: an agent opens
 * every downlink from one aggregator and an aggregator seals to the same agents again and again, and the
 * scalar multiplication in JavaScript cost each box about a millisecond. `nacl.box(m, n, pk, sk)` is
 * `nacl.box.after(m, n, nacl.box.before(pk, sk))`, so the boxes are the same bytes.
 */
function sharedKey(peerPublicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  let peers = sharedKeys.get(secretKey);
  if (peers === undefined) {
    peers = new Map();
    sharedKeys.set(secretKey, peers);
  }
  const id = toHex(peerPublicKey);
  let k = peers.get(id);
  if (k === undefined) {
    if (peers.size >= SHARED_KEYS_PER_SECRET) peers.clear();
    k = nacl.box.before(peerPublicKey, secretKey);
    peers.set(id, k);
  }
  return k;
}

export function seal(
  plaintext: Uint8Array,
  recipientPublicKey: Uint8Array,
  sender: BoxKeyPair,
  random: (n: number) => Uint8Array = randomBytes,
): SealedBox {
  const nonce = new Uint8Array(random(nacl.box.nonceLength));
  if (recipientPublicKey.length !== nacl.box.publicKeyLength)
    throw new ProtocolError(
      "MALFORMED",
      `an x25519 public key has 32 bytes, not ${recipientPublicKey.length}`,
    );
  const ct = nacl.box.after(plaintext, nonce, sharedKey(recipientPublicKey, sender.secretKey));
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
  const plain = nacl.box.open.after(
    new Uint8Array(Buffer.from(sealed.ct, "base64")),
    nonce,
    sharedKey(from, recipient.secretKey),
  );
  if (plain === null) throw new ProtocolError("DECRYPT_FAILED", "sealed box failed authentication");
  return plain;
}
