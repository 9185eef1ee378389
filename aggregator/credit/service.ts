import { paymentHash, sealWalletKey, sharedWalletAddress, signToken } from "../../protocol/credit-token.js";
import type { BoxKeyPair } from "../../protocol/crypto/box.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import type { CreditBill, CreditGrantTx, CreditPayTx } from "../../protocol/messages/credit.js";
import type { TradingEvent } from "../state/events.js";
import { CreditError } from "./errors.js";
import { type CreditState, cloneLoan, tokenOf } from "./state.js";

/**
 * The lending aggregator's side of the credit bank: everything that needs the bank's secret keys or
 * fresh randomness, which the replicated state transition must not touch. It reads the committed
 * CreditState and prepares the transactions (`credit.grant`, `credit.pay`) that every replica then
 * verifies with the pure handlers.
 */
export interface BankKeys {
  id: string;
  /** ed25519 seed that signs tokens */
  seed: Uint8Array;
  /** x25519 key pair that seals shared-wallet keys to borrowers */
  box: BoxKeyPair;
}

export interface PreparedGrant {
  tx: CreditGrantTx;
  /** the shared wallet's seed: the bank keeps it too (the wallet is shared) */
  walletSeed: Uint8Array;
}

export class CreditBankService {
  private readonly keys: BankKeys;
  private readonly random: (n: number) => Uint8Array;
  private readonly crypto: Ed25519;

  /** `random` supplies the shared wallets' seeds and the box nonces; tests pass a seeded source. */
  constructor(keys: BankKeys, random: (n: number) => Uint8Array, crypto: Ed25519 = defaultEd25519) {
    this.keys = keys;
    this.random = random;
    this.crypto = crypto;
  }

  /** Builds the grant of an offered loan: a new shared wallet, its key sealed to the borrower, the signed token. */
  prepareGrant(state: CreditState, loanId: string): PreparedGrant {
    const loan = state.loans[loanId];
    if (loan === undefined) throw new CreditError("UNKNOWN_LOAN", `no loan ${loanId}`);
    if (loan.bank !== this.keys.id)
      throw new CreditError("UNAUTHORIZED", `loan ${loanId} is not this bank's`);
    if (loan.status !== "offered") throw new CreditError("LOAN_NOT_OFFERED", `loan is ${loan.status}`);
    const walletSeed = new Uint8Array(this.random(32));
    const sharedWallet = sharedWalletAddress(this.crypto.publicKey(walletSeed));
    const keyDelivery = sealWalletKey(
      loanId,
      walletSeed,
      sharedWallet,
      loan.boxKey,
      this.keys.box,
      this.random,
    );
    const next = cloneLoan(loan);
    next.status = "active";
    next.sharedWallet = sharedWallet;
    next.keyDelivery = keyDelivery;
    next.balance = loan.principal;
    next.tokenVersion = 1;
    const tokenSig = signToken(tokenOf(next), this.keys.seed, this.crypto);
    return { tx: { loanId, sharedWallet, keyDelivery, tokenSig }, walletSeed };
  }

  /**
   * Re-signs the token as it will stand after paying `bill`. The replicas check the bill itself; the
   * bank refuses here only what it can see would be refused, so that it does not sign junk.
   */
  preparePay(state: CreditState, bill: CreditBill): CreditPayTx {
    const loan = state.loans[bill.payment.loanId];
    if (loan === undefined) throw new CreditError("UNKNOWN_LOAN", `no loan ${bill.payment.loanId}`);
    if (loan.status !== "active") throw new CreditError("LOAN_NOT_ACTIVE", `loan is ${loan.status}`);
    if (bill.payment.amount > loan.balance) {
      throw new CreditError(
        "OVERSPEND",
        `payment of ${bill.payment.amount} mc exceeds the balance ${loan.balance}`,
      );
    }
    const next = cloneLoan(loan);
    next.balance -= bill.payment.amount;
    next.payments.push({
      paymentId: bill.payment.paymentId,
      hash: paymentHash(bill.payment),
      sellerWallet: bill.payment.sellerWallet,
      amount: bill.payment.amount,
    });
    next.tokenVersion += 1;
    return { bill, tokenSig: signToken(tokenOf(next), this.keys.seed, this.crypto) };
  }

  /**
   * The grants this bank owes after a block: one per `credit.offered` event for this bank whose loan is
   * still offered. The caller submits each `tx` as `credit.grant` and keeps `walletSeed` with the loan.
   */
  grantsFor(state: CreditState, events: readonly TradingEvent[]): PreparedGrant[] {
    return events
      .flatMap((e) => (e.type === "credit.offered" && e.bank === this.keys.id ? [e.loanId] : []))
      .filter((id) => state.loans[id]?.status === "offered")
      .map((id) => this.prepareGrant(state, id));
  }

  /** The current signed token of a loan, for sending to its borrower. */
  currentToken(state: CreditState, loanId: string) {
    const loan = state.loans[loanId];
    if (loan?.tokenSig == null) throw new CreditError("LOAN_NOT_ACTIVE", `loan ${loanId} has no token yet`);
    return { ...tokenOf(loan), sig: loan.tokenSig };
  }
}
