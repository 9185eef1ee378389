/**
 * The borrower's side of the credit bank (docs/AGENT-TRADING.md, "Credit"), around the pure decisions
 * of credit.ts: ask when a wanted buy could not be paid, open the grant, spend the token into the
 * trading wallet with a bill, repay when the wallet covers the debt.
 */

import { fromHex, toHex } from "../../protocol/bytes.js";
import { checkPaymentForSeller, openWalletKey, signPayment } from "../../protocol/credit-token.js";
import { boxKeyPairFromSecret } from "../../protocol/crypto/box.js";
import type { Certificate } from "../../protocol/identity.js";
import type { LoadedIdentity } from "../../protocol/load-identity.js";
import type { Logger } from "../../protocol/log.js";
import {
  agentTxId,
  type CreditGrantBody,
  MSG_CREDIT_BILL,
  MSG_CREDIT_REPAY,
  MSG_CREDIT_REQUEST,
} from "../../protocol/messages/downlink.js";
import type { OutboxRow } from "../store/agent-store.js";
import type { MarketTerms } from "../trading/orders.js";
import type { TradingConfig } from "./config.js";
import { creditPayment, creditRequest, repayment } from "./credit.js";
import { ParticipantError } from "./errors.js";
import type { TradingState } from "./state.js";

/** What the borrower shares with the participant. */
export interface BorrowerContext {
  id: string;
  identity: LoadedIdentity;
  aggregator: Certificate;
  config: TradingConfig;
  log: Logger;
  state: TradingState;
  terms: MarketTerms;
  wallets: string[];
  wallet: string;
  send(items: { type: string; body: unknown }[], also: (rows: OutboxRow[]) => void): OutboxRow[];
  availableMc(): number | null;
}

export class Borrower {
  constructor(private readonly c: BorrowerContext) {}

  step(now: number): void {
    const c = this.c.config.credit;
    if (!c.enabled) return;
    const loan = this.c.state.loan();
    const shortfall = this.c.state.meta<{ at: number; mc: number; ref: number | null }>("shortfall");
    const recentShortfall = shortfall !== null && now - shortfall.at < 2 * this.c.terms.intervalMs;
    if (recentShortfall) {
      const req = creditRequest(
        { ...c, bank: c.bank ?? this.c.aggregator.id },
        shortfall.mc,
        loan,
        {
          certSerial: this.c.identity.cert.serial,
          wallets: this.c.wallets,
          boxKey: this.c.identity.cert.boxKey,
          blacklisted: this.c.state.view()?.view.blacklisted ?? false,
        },
        shortfall.ref ?? this.c.state.announce()?.referencePriceMcPerKwh ?? 1000,
        now,
        c.retryIntervals * this.c.terms.intervalMs,
      );
      if (req !== null) {
        this.c.send([{ type: MSG_CREDIT_REQUEST, body: req }], ([r]) =>
          this.c.state.putLoan({
            requestSeq: r.seq,
            requestedAt: now,
            loanId: null,
            sharedWallet: null,
            walletSeedHex: null,
            token: null,
            status: "requested",
            spentMc: 0,
            repaySeq: null,
          }),
        );
        this.c.log.info("credit requested", { amountMc: req.amount, bank: req.bank });
        return;
      }
    }
    if (loan === null) return;
    const unsigned = creditPayment(loan, this.c.wallet, now);
    if (unsigned !== null && loan.walletSeedHex !== null && loan.token !== null) {
      const payment = signPayment(unsigned, fromHex(loan.walletSeedHex)!);
      const bank = loan.token.bank;
      // The payee's own check (seed §III-2 step 1) before the bill goes to the bank.
      if (bank === this.c.aggregator.id)
        checkPaymentForSeller(loan.token, payment, {
          bankPublicKey: this.c.aggregator.publicKey,
          sellerWallet: this.c.wallet,
          now,
        });
      const bill = { seller: this.c.id, payment, token: loan.token };
      this.c.send([{ type: MSG_CREDIT_BILL, body: bill }], () =>
        this.c.state.putLoan({ ...loan, status: "paid", spentMc: loan.spentMc + payment.amount }),
      );
      this.c.log.info("credit token spent", { loanId: loan.loanId, amountMc: payment.amount });
      return;
    }
    const repay = repayment(loan, this.c.availableMc(), this.c.wallet, now);
    if (repay !== null) {
      this.c.send([{ type: MSG_CREDIT_REPAY, body: repay }], ([r]) =>
        this.c.state.putLoan({ ...loan, status: "repay-sent", repaySeq: r.seq }),
      );
      this.c.log.info("loan repaid", { loanId: repay.loanId });
    }
  }

  onGrant(g: CreditGrantBody): void {
    const loan = this.c.state.loan();
    if (loan === null || (loan.status !== "requested" && loan.loanId !== g.loanId))
      throw new ParticipantError(
        "BAD_DOWNLINK",
        `grant of loan ${g.loanId} that this agent is not waiting for`,
      );
    if (loan.status !== "requested") return;
    // The home aggregator's box key is the bank's when it is the bank: then the sender is checked too.
    const fromHome = (this.c.config.credit.bank ?? this.c.aggregator.id) === this.c.aggregator.id;
    const seed = openWalletKey(g.keyDelivery, boxKeyPairFromSecret(this.c.identity.key.boxSecret), {
      loanId: g.loanId,
      sharedWallet: g.sharedWallet,
      ...(fromHome ? { bankBoxKey: fromHex(this.c.aggregator.boxKey) } : {}),
    });
    this.c.state.putLoan({
      ...loan,
      loanId: g.loanId,
      sharedWallet: g.sharedWallet,
      walletSeedHex: toHex(seed),
      token: g.token ?? null,
      status: "granted",
    });
    this.c.log.info("credit granted", { loanId: g.loanId, amountMc: g.token?.amount });
  }

  onResult(txId: string, ok: boolean): void {
    const loan = this.c.state.loan();
    if (loan === null) return;
    if (txId === agentTxId(this.c.id, loan.requestSeq) && !ok && loan.status === "requested")
      this.c.state.putLoan({ ...loan, status: "closed" });
    if (loan.repaySeq !== null && txId === agentTxId(this.c.id, loan.repaySeq))
      this.c.state.putLoan({ ...loan, status: ok ? "closed" : "paid", repaySeq: ok ? loan.repaySeq : null });
  }
}
