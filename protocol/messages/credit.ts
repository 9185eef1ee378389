import { z } from "#zod";

/**
 * Message bodies of the credit bank (seed 000 §III): the token request, the signed token, the
 * borrower's payment with the token, the seller's bill, and the transactions that carry them into the
 * ledger. Amounts are integer milli-coins; times are ms since the Unix epoch.
 */

/** Domain-separation prefixes of the credit signatures; see docs/CREDIT.md. */
export const CREDIT_TOKEN_DOMAIN = "gridlet/credit-token/v1";
export const CREDIT_PAYMENT_DOMAIN = "gridlet/credit-payment/v1";

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `${bytes * 2} lower-case hex digits`);
const id = z.string().min(1).max(128);
const mc = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A shared wallet's address: "cb" and the hex ed25519 public key whose seed the bank sealed to the borrower. */
export const sharedWalletSchema = z.string().regex(/^cb[0-9a-f]{64}$/, '"cb" and 64 lower-case hex digits');

export const tokenRequestSchema = z
  .object({
    /** id of the credit bank (its aggregator) asked for the loan */
    bank: id,
    /** serial of the borrower's certificate (Cert_i) */
    cert: id,
    /** every wallet address the borrower has used ({WID_i,k}) */
    wallets: z.array(id).min(1).max(64),
    /** the credit value the borrower believes it has; the bank decides on its own record */
    credit: z.number().int(),
    /** loan amount asked for, milli-coins; the bank lends at most this */
    amount: mc.refine((x) => x > 0, "must be positive"),
    /** x25519 public key the shared wallet's key pair is sealed to (from the borrower's certificate) */
    boxKey: hex(32),
    /**
     * The borrower's energy need, integers with their scale in the name: Qmin in Wh and the price p it
     * faces in milli-coins per kWh. The pricing model takes Qmin = qMinWh / 1000 kWh and
     * p = priceMcPerKwh / 1000 coins per kWh, which give k = (Qmin − θ)p.
     */
    demand: z
      .object({
        qMinWh: z.number().int().min(0).max(1e15),
        priceMcPerKwh: z.number().int().min(1).max(1e15),
      })
      .strict(),
  })
  .strict();

export const repaymentRecordSchema = z
  .object({
    /** loans repaid within their buffer */
    s: z.number().int().min(0),
    /** loans not repaid in time */
    f: z.number().int().min(0),
    /** hashes of the borrower's earlier credit payments, oldest first */
    paymentHashes: z.array(hex(32)),
  })
  .strict();

/** The seed's Token_i: what the bank signs for the borrower to pay with. */
export const creditTokenSchema = z
  .object({
    v: z.literal(1),
    loanId: hex(32),
    /** the bank's id (its certificate, Cert_cb) */
    bank: id,
    /** the borrower's certificate serial; the shared wallet's authorisation (Cert_i^cb) is this signature */
    borrowerCert: id,
    sharedWallet: sharedWalletSchema,
    /** loan amount (principal) */
    amount: mc,
    /** what may still be spent with the token */
    balance: mc,
    issuedAt: time,
    /** validity t: payments only until then */
    validUntil: time,
    /** repayment buffer after validUntil, ms */
    bufferMs: time,
    /** interest rate β per month and penalty rate α, parts per million */
    interestPpm: z.number().int().min(0),
    penaltyPpm: z.number().int().min(0),
    /** amounts due on time (interest) and in addition when late (penalty), milli-coins */
    interest: mc,
    penalty: mc,
    /** pre_record_i: RP(s, f) and hashes of previous credit payments */
    record: repaymentRecordSchema,
    /** hashes of the payments made with this token so far */
    payments: z.array(hex(32)),
    /** grows with every re-signing */
    version: z.number().int().min(1),
  })
  .strict();

export const signedCreditTokenSchema = creditTokenSchema.extend({ sig: hex(64) }).strict();

/** Borrower → seller: a payment from the shared wallet, signed with the shared wallet's key. */
export const creditPaymentSchema = z
  .object({
    loanId: hex(32),
    /** chosen by the borrower, unique per loan: the replay guard */
    paymentId: z.string().min(1).max(64),
    sellerWallet: id,
    amount: mc.refine((x) => x > 0, "must be positive"),
    ts: time,
    sig: hex(64),
  })
  .strict();

/** Seller → bank: the energy bill with the borrower's payment and the token it was shown. */
export const creditBillSchema = z
  .object({
    seller: id,
    payment: creditPaymentSchema,
    token: signedCreditTokenSchema,
  })
  .strict();

export const sealedBoxSchema = z
  .object({ from: hex(32), nonce: hex(24), ct: z.string().min(1).max(4096) })
  .strict();

/** Transaction `credit.request`, sent by the borrower. */
export const creditRequestTxSchema = tokenRequestSchema;

/** Transaction `credit.grant`, sent by the bank: the shared wallet, its sealed key pair, the token signature. */
export const creditGrantTxSchema = z
  .object({
    loanId: hex(32),
    sharedWallet: sharedWalletSchema,
    keyDelivery: sealedBoxSchema,
    tokenSig: hex(64),
  })
  .strict();

/** Transaction `credit.pay`, sent by the bank: the bill it pays and its signature over the updated token. */
export const creditPayTxSchema = z.object({ bill: creditBillSchema, tokenSig: hex(64) }).strict();

/** Transaction `credit.repay`, sent by the borrower: the rest of the debt comes from `fromWallet`. */
export const creditRepayTxSchema = z.object({ loanId: hex(32), fromWallet: id }).strict();

/** Transaction `credit.sweep`, sent by any aggregator: marks late loans and defaulters at block time. */
export const creditSweepTxSchema = z.object({}).strict();

export type TokenRequest = z.infer<typeof tokenRequestSchema>;
export type RepaymentRecord = z.infer<typeof repaymentRecordSchema>;
export type CreditToken = z.infer<typeof creditTokenSchema>;
export type SignedCreditToken = z.infer<typeof signedCreditTokenSchema>;
export type CreditPayment = z.infer<typeof creditPaymentSchema>;
export type UnsignedCreditPayment = Omit<CreditPayment, "sig">;
export type CreditBill = z.infer<typeof creditBillSchema>;
export type CreditGrantTx = z.infer<typeof creditGrantTxSchema>;
export type CreditPayTx = z.infer<typeof creditPayTxSchema>;
export type CreditRepayTx = z.infer<typeof creditRepayTxSchema>;

/** The credit transaction types, as the state machine's handler registry keys them. */
export const CREDIT_TX_TYPES = [
  "credit.request",
  "credit.grant",
  "credit.pay",
  "credit.repay",
  "credit.sweep",
] as const;
export type CreditTxType = (typeof CREDIT_TX_TYPES)[number];
