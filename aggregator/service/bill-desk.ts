import { fromHex } from "../../protocol/bytes.js";
import type { Ed25519 } from "../../protocol/crypto/index.js";
import { decodeEnvelope, type Envelope, envelopeSigningBytes } from "../../protocol/envelope.js";
import { describeError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";
import { creditBillSchema } from "../../protocol/messages/credit.js";
import { MSG_CREDIT_BILL } from "../../protocol/messages/downlink.js";
import type { AggregatorNode } from "../node/node.js";
import type { LedgerOutbox, PendingRow } from "./outbox.js";
import type { PeerLink } from "./peer-link.js";

/** a bill the bank could not pay is given up after this many forwards */
export const MAX_BILL_ATTEMPTS = 20;

export interface BillDeskOptions {
  self: string;
  /** true when this aggregator runs a credit bank */
  isBank: boolean;
  node: () => AggregatorNode | undefined;
  /** false until the node has replayed its own ledger: bills wait in the outbox until then */
  started: () => boolean;
  outbox: LedgerOutbox;
  link: PeerLink;
  crypto: Ed25519;
  now: () => number;
  resubmitMs: number;
  log: Logger;
}

/**
 * The bill desk: a seller's `credit.bill` (a payment made with a borrower's credit token) goes to the
 * bank that issued the token. Bills for another bank are forwarded over the peer links; bills for this
 * bank are checked (seller's signature, schema) and submitted to the ledger as the bank's `credit.pay`.
 */
export class BillDesk {
  /** (seller:seq) → when last submitted to the ledger */
  private readonly submitted = new Map<string, number>();

  constructor(private readonly o: BillDeskOptions) {}

  /**
   * A bill for this bank, from this aggregator's outbox or forwarded by `via`. True when the bill is
   * finished with (paid, or refused for good); false when it should be offered again later.
   */
  receive(raw: string, via: string): boolean {
    const node = this.o.node();
    if (!this.o.started() || node === undefined) return false;
    try {
      const env = decodeEnvelope(Buffer.from(raw, "utf8"));
      if (env.type !== MSG_CREDIT_BILL) throw new Error(`type ${env.type} is not ${MSG_CREDIT_BILL}`);
      const bill = creditBillSchema.parse(env.body);
      if (env.from !== bill.seller) throw new Error(`bill of seller ${bill.seller} signed by ${env.from}`);
      const key = node.machine.registry.agentKey(env.from, this.o.now());
      if (!this.o.crypto.verify(fromHex(env.sig)!, envelopeSigningBytes(env), fromHex(key)!))
        throw new Error("the seller's signature does not verify");
      const loan = node.machine.credit().loans[bill.payment.loanId];
      if (loan?.payments.some((p) => p.paymentId === bill.payment.paymentId)) return true;
      const k = `${env.from}:${env.seq}`;
      const last = this.submitted.get(k);
      if (last !== undefined && this.o.now() - last < this.o.resubmitMs) return false;
      this.submitted.set(k, this.o.now());
      node.submitBill(bill);
      return false;
    } catch (e) {
      this.o.log.warn("credit bill refused at the bank", { via, error: describeError(e) });
      return true;
    }
  }

  /** One pending bill of the outbox: paid here, forwarded to its bank, or given up. */
  submit(row: PendingRow): void {
    const { outbox } = this.o;
    const node = this.o.node();
    if (node === undefined) return;
    if (row.attempts >= MAX_BILL_ATTEMPTS) {
      this.o.log.warn("credit bill given up", { key: row.key });
      outbox.remove(row.key);
      return;
    }
    const env = JSON.parse(row.raw) as Envelope<{
      token?: { bank?: string };
      payment?: { loanId?: string; paymentId?: string };
    }>;
    const loan = node.machine.credit().loans[env.body.payment?.loanId ?? ""];
    if (loan?.payments.some((p) => p.paymentId === env.body.payment?.paymentId)) {
      outbox.remove(row.key);
      return;
    }
    const bankId = loan?.bank ?? env.body.token?.bank;
    if (bankId === undefined) {
      outbox.remove(row.key);
      return;
    }
    if (bankId === this.o.self && this.o.isBank) {
      if (this.receive(row.raw, this.o.self)) outbox.remove(row.key);
    } else this.o.link.forwardBill(bankId, Buffer.from(row.raw, "utf8"));
    outbox.markSent(row.key, this.o.now());
  }
}
