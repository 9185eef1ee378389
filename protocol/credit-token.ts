import { fromHex, toHex, utf8 } from "./bytes.js";
import { signingBytes } from "./canonical.js";
import { type BoxKeyPair, open, type SealedBox, seal } from "./crypto/box.js";
import { defaultEd25519, type Ed25519 } from "./crypto/index.js";
import { CreditTokenError } from "./errors.js";
import { hashJson } from "./hash.js";
import {
  CREDIT_PAYMENT_DOMAIN,
  CREDIT_TOKEN_DOMAIN,
  type CreditPayment,
  type CreditToken,
  type SignedCreditToken,
  type UnsignedCreditPayment,
} from "./messages/credit.js";

/** Bytes the bank signs: the token without `sig`, canonical JSON behind the credit-token domain. */
export function tokenSigningBytes(token: CreditToken): Uint8Array {
  const { sig: _sig, ...fields } = token as SignedCreditToken;
  return signingBytes(CREDIT_TOKEN_DOMAIN, fields);
}

export function signToken(
  token: CreditToken,
  bankSeed: Uint8Array,
  crypto: Ed25519 = defaultEd25519,
): string {
  return toHex(crypto.sign(tokenSigningBytes(token), bankSeed));
}

export function verifyTokenSig(
  token: CreditToken,
  sig: string,
  bankPublicKey: string,
  crypto: Ed25519 = defaultEd25519,
): boolean {
  const s = fromHex(sig);
  const pk = fromHex(bankPublicKey);
  if (s === undefined || pk === undefined) return false;
  return crypto.verify(s, tokenSigningBytes(token), pk);
}

/** A shared wallet's address carries its public key, so anyone can check a payment's signature. */
export function sharedWalletAddress(publicKey: Uint8Array): string {
  return `cb${toHex(publicKey)}`;
}

export function sharedWalletPublicKey(address: string): Uint8Array {
  const pk = address.startsWith("cb") ? fromHex(address.slice(2)) : undefined;
  if (pk?.length !== 32)
    throw new CreditTokenError("MALFORMED", `"${address}" is not a shared wallet address`);
  return pk;
}

export function paymentSigningBytes(p: UnsignedCreditPayment): Uint8Array {
  const { sig: _sig, ...fields } = p as CreditPayment;
  return signingBytes(CREDIT_PAYMENT_DOMAIN, fields);
}

/** The borrower signs a payment with the shared wallet's key (delivered to it sealed). */
export function signPayment(
  p: UnsignedCreditPayment,
  walletSeed: Uint8Array,
  crypto: Ed25519 = defaultEd25519,
): CreditPayment {
  return { ...p, sig: toHex(crypto.sign(paymentSigningBytes(p), walletSeed)) };
}

export function verifyPaymentSig(
  p: CreditPayment,
  sharedWallet: string,
  crypto: Ed25519 = defaultEd25519,
): boolean {
  const s = fromHex(p.sig);
  if (s === undefined) return false;
  return crypto.verify(s, paymentSigningBytes(p), sharedWalletPublicKey(sharedWallet));
}

/** Hash of record of a credit payment: what later tokens list in pre_record. */
export function paymentHash(p: CreditPayment): string {
  return hashJson(p);
}

/** Plaintext of the key delivery: the shared wallet's ed25519 seed, bound to the loan. */
interface KeyDeliveryPlain {
  loanId: string;
  sharedWallet: string;
  seed: string;
}

/** Seals the shared wallet's seed to the borrower's box key; the nonce comes from `random`. */
export function sealWalletKey(
  loanId: string,
  walletSeed: Uint8Array,
  sharedWallet: string,
  borrowerBoxKey: string,
  bankBox: BoxKeyPair,
  random: (n: number) => Uint8Array,
): SealedBox {
  const recipient = fromHex(borrowerBoxKey);
  if (recipient?.length !== 32)
    throw new CreditTokenError("MALFORMED", "borrower box key must be 32 bytes of hex");
  const plain: KeyDeliveryPlain = { loanId, sharedWallet, seed: toHex(walletSeed) };
  return seal(utf8(JSON.stringify(plain)), recipient, bankBox, random);
}

/** The borrower's side: opens the delivery and checks that the key really is the shared wallet's. */
export function openWalletKey(
  sealed: SealedBox,
  borrowerBox: BoxKeyPair,
  expected: { loanId: string; sharedWallet: string; bankBoxKey?: Uint8Array },
  crypto: Ed25519 = defaultEd25519,
): Uint8Array {
  const plain = JSON.parse(Buffer.from(open(sealed, borrowerBox, expected.bankBoxKey)).toString("utf8")) as
    | Partial<KeyDeliveryPlain>
    | undefined;
  const seed = typeof plain?.seed === "string" ? fromHex(plain.seed) : undefined;
  if (
    seed?.length !== 32 ||
    plain?.loanId !== expected.loanId ||
    plain.sharedWallet !== expected.sharedWallet ||
    sharedWalletAddress(crypto.publicKey(seed)) !== expected.sharedWallet
  ) {
    throw new CreditTokenError(
      "WALLET_MISMATCH",
      "the delivered key is not the shared wallet's key for this loan",
    );
  }
  return seed;
}

/**
 * The seller's check before it delivers against a credit payment (seed §III-2, step 1): the token is
 * the bank's, still valid, covers the amount, and the payment is signed with the token's shared wallet
 * key for this seller. The bank's ledger remains the authority on the balance.
 */
export function checkPaymentForSeller(
  token: SignedCreditToken,
  payment: CreditPayment,
  expect: { bankPublicKey: string; sellerWallet: string; now: number },
  crypto: Ed25519 = defaultEd25519,
): void {
  const { sig, ...fields } = token;
  if (!verifyTokenSig(fields, sig, expect.bankPublicKey, crypto)) {
    throw new CreditTokenError("BAD_TOKEN_SIGNATURE", "the token is not signed by the bank");
  }
  if (expect.now > token.validUntil)
    throw new CreditTokenError("TOKEN_EXPIRED", "the token's validity has ended");
  if (payment.loanId !== token.loanId || payment.sellerWallet !== expect.sellerWallet) {
    throw new CreditTokenError("WALLET_MISMATCH", "the payment is for another loan or another seller");
  }
  if (payment.amount > token.balance) {
    throw new CreditTokenError(
      "OVERSPEND",
      `payment of ${payment.amount} mc exceeds the token balance ${token.balance} mc`,
    );
  }
  if (!verifyPaymentSig(payment, token.sharedWallet, crypto)) {
    throw new CreditTokenError(
      "BAD_PAYMENT_SIGNATURE",
      "the payment is not signed with the shared wallet's key",
    );
  }
}
