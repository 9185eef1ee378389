import { toHex } from "../../protocol/bytes.js";
import { boxKeyPairFromSecret } from "../../protocol/crypto/box.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { type Certificate, type KeyMaterial, signCertificate } from "../../protocol/identity.js";
import type { SignedCreditToken } from "../../protocol/messages/credit.js";

/** A certificate for `k` signed by `caSeed`, valid for ever; for unit tests that need no CA directory. */
export function testCertificate(
  caSeed: Uint8Array,
  id: string,
  role: "agent" | "aggregator",
  k: KeyMaterial,
  wallets?: string[],
): Certificate {
  return signCertificate(
    {
      serial: `s-${id}`,
      id,
      role,
      publicKey: toHex(defaultEd25519.publicKey(k.seed)),
      boxKey: toHex(boxKeyPairFromSecret(k.boxSecret).publicKey),
      notBefore: 0,
      notAfter: 9e15,
      issuer: "ca",
      ...(wallets ? { wallets } : {}),
    },
    caSeed,
  );
}

/** A credit token as the bank issues it, for the agent side's pure decisions (its signature is not checked). */
export const sampleCreditToken: SignedCreditToken = {
  v: 1,
  loanId: "a".repeat(64),
  bank: "agg-1",
  borrowerCert: "serial",
  sharedWallet: `cb${"b".repeat(64)}`,
  amount: 50_000,
  balance: 50_000,
  issuedAt: 0,
  validUntil: 1_000_000,
  bufferMs: 100_000,
  interestPpm: 1000,
  penaltyPpm: 5000,
  interest: 600,
  penalty: 900,
  record: { s: 0, f: 0, paymentHashes: [] },
  payments: [],
  version: 1,
  sig: "c".repeat(128),
};
