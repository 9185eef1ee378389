import { equalBytes, fromHex, toHex } from "../../protocol/bytes.js";
import type { Ed25519 } from "../../protocol/crypto/index.js";
import { sha256Hex } from "../../protocol/hash.js";

/** Signs bytes as one consortium member; signatures travel as lower-case hex. */
export interface Signer {
  readonly id: string;
  sign(bytes: Uint8Array): string;
}

/** Checks a member's signature. Unknown members and malformed signatures are simply invalid. */
export interface Verifier {
  verify(member: string, bytes: Uint8Array, sig: string): boolean;
}

export function ed25519Signer(id: string, seed: Uint8Array, crypto: Ed25519): Signer {
  return { id, sign: (bytes) => toHex(crypto.sign(bytes, seed)) };
}

export function ed25519Verifier(publicKeys: ReadonlyMap<string, Uint8Array>, crypto: Ed25519): Verifier {
  return {
    verify(member, bytes, sig) {
      const key = publicKeys.get(member);
      if (key === undefined || typeof sig !== "string") return false;
      const raw = fromHex(sig);
      return raw !== undefined && raw.length === 64 && crypto.verify(raw, bytes, key);
    },
  };
}

/** Counts every check `inner` makes (the consensus metrics' signature checks), valid or not. */
export function countingVerifier(inner: Verifier, onCheck: () => void): Verifier {
  return {
    verify(member, bytes, sig) {
      onCheck();
      return inner.verify(member, bytes, sig);
    },
  };
}

/**
 * Remembers the last `size` signatures that checked, by signer, signature and signed bytes: a member's
 * vote batch signature stands behind many certificates (every slot of a round), and each is checked once.
 * Failures are not remembered.
 */
export function cachingVerifier(inner: Verifier, size = 4096): Verifier {
  const ok = new Map<string, Uint8Array>();
  return {
    verify(member, bytes, sig) {
      const key = `${member}\n${sig}`;
      const seen = ok.get(key);
      if (seen !== undefined && equalBytes(seen, bytes)) return true;
      if (!inner.verify(member, bytes, sig)) return false;
      if (ok.size >= size) ok.delete(ok.keys().next().value as string);
      ok.set(key, Uint8Array.from(bytes));
      return true;
    },
  };
}

/*
 * A keyed-hash stand-in for signatures, for simulator runs over thousands of seeds where ed25519 would
 * dominate the time. It is only sound inside one process where each replica's secret stays in its own
 * signer: a simulated forger cannot produce another member's tag because it never sees the secret.
 */
export function simSigner(id: string, secret: string): Signer {
  const key = Buffer.from(secret);
  return { id, sign: (bytes) => simTag(key, bytes) };
}

export function simVerifier(secrets: ReadonlyMap<string, string>): Verifier {
  const keys = new Map([...secrets].map(([member, secret]) => [member, Buffer.from(secret)]));
  return {
    verify(member, bytes, sig) {
      const key = keys.get(member);
      return key !== undefined && sig === simTag(key, bytes);
    },
  };
}

function simTag(key: Buffer, bytes: Uint8Array): string {
  return sha256Hex(Buffer.concat([key, bytes])).slice(0, 32);
}
