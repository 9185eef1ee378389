import { z } from "#zod";
import { creditBillSchema, creditGrantTxSchema, signedCreditTokenSchema } from "./credit.js";

/**
 * Messages of the ledger between an agent and the aggregators: what an aggregator sends one agent on
 * `agentDown` once the consortium has committed (results, sealed fills and account views, credit
 * grants), and the credit message types an agent sends up. `MSG_FILL` and `MSG_ANNOUNCE` live in
 * ./trading.js; `receipt` in ./readings.js.
 */

/** aggregator → one agent: the outcome of one of its ledger transactions once committed. */
export const MSG_TX_RESULT = "tx.result";
/** aggregator → one agent: sealed box of the JSON of its `AgentView` after a block that touched it. */
export const MSG_ACCOUNT_VIEW = "account.view";
/** aggregator → the borrower: the committed grant and, when the bank has it, the signed token. */
export const MSG_CREDIT_GRANT = "credit.grant";
/** agent (seller) → its aggregator: a bill for a payment made with a borrower's credit token. */
export const MSG_CREDIT_BILL = "credit.bill";
/** agent → its aggregator: ledger transactions of the credit bank (bodies in ./credit.js). */
export const MSG_CREDIT_REQUEST = "credit.request";
export const MSG_CREDIT_REPAY = "credit.repay";

/** `${agentId}:${envelopeSeq}`: the ledger's transaction id of an agent-signed envelope. */
export function agentTxId(agentId: string, seq: number): string {
  return `${agentId}:${seq}`;
}

export const txResultBodySchema = z
  .object({
    txId: z.string().min(3).max(200),
    ok: z.boolean(),
    /** the ledger's refusal code, e.g. INSUFFICIENT_FUNDS or BLACKLISTED, when not ok */
    code: z.string().min(1).max(64).optional(),
    message: z.string().max(1000).optional(),
  })
  .strict();

/**
 * A NaCl sealed box (protocol/crypto/box.ts `seal`) from the aggregator's box key to the agent's
 * certificate `boxKey`. The ciphertext bound is generous: an account view lists open orders and trades.
 */
export const sealedDownlinkSchema = z
  .object({
    from: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
    nonce: z.string().regex(/^[0-9a-f]{48}$/, "48 lower-case hex digits"),
    ct: z.string().min(1).max(1_000_000),
  })
  .strict();

/** Body of `fill`: the sealed JSON of a `Fill` (./trading.js). */
export const fillDownlinkBodySchema = sealedDownlinkSchema;
/** Body of `account.view`: the sealed JSON of an `AgentView` (aggregator/state/views.ts). */
export const accountViewBodySchema = sealedDownlinkSchema;

/** Body of `credit.grant`: the committed `CreditGrantTx` plus the signed token when available. */
export const creditGrantBodySchema = creditGrantTxSchema
  .extend({ token: signedCreditTokenSchema.optional() })
  .strict();

/** Body of `credit.bill` (agent → aggregator, and aggregator → the borrower's bank on the peer links). */
export const creditBillBodySchema = creditBillSchema;

export type TxResultBody = z.infer<typeof txResultBodySchema>;
export type SealedDownlink = z.infer<typeof sealedDownlinkSchema>;
export type CreditGrantBody = z.infer<typeof creditGrantBodySchema>;
export type CreditBillBody = z.infer<typeof creditBillBodySchema>;
