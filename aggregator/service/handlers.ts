import type { z } from "zod";
import type { Envelope } from "../../protocol/envelope.js";
import {
  creditBillSchema,
  creditRepayTxSchema,
  creditRequestTxSchema,
} from "../../protocol/messages/credit.js";
import { MSG_CREDIT_BILL, MSG_CREDIT_REPAY, MSG_CREDIT_REQUEST } from "../../protocol/messages/downlink.js";
import {
  cancelOrderBodySchema,
  cancelTradeBodySchema,
  deliveryConfirmationBodySchema,
  disputeBodySchema,
  MSG_CANCEL_ORDER,
  MSG_CANCEL_TRADE,
  MSG_CONFIRM_DELIVERY,
  MSG_DISPUTE,
  MSG_METER_SUMMARY,
  MSG_ORDER,
  MSG_REGISTER_WALLET,
  meterSummaryBodySchema,
  orderBodySchema,
  registerWalletBodySchema,
} from "../../protocol/messages/trading.js";
import type { Ingest } from "../ingest/ingest.js";
import type { LedgerOutbox, PendingKind } from "./outbox.js";

/** Agent envelope types that go into the ledger as they are (signed by the agent). */
export const LEDGER_MESSAGE_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  [MSG_REGISTER_WALLET]: registerWalletBodySchema,
  [MSG_ORDER]: orderBodySchema,
  [MSG_CANCEL_ORDER]: cancelOrderBodySchema,
  [MSG_METER_SUMMARY]: meterSummaryBodySchema,
  [MSG_CONFIRM_DELIVERY]: deliveryConfirmationBodySchema,
  [MSG_CANCEL_TRADE]: cancelTradeBodySchema,
  [MSG_DISPUTE]: disputeBodySchema,
  [MSG_CREDIT_REQUEST]: creditRequestTxSchema,
  [MSG_CREDIT_REPAY]: creditRepayTxSchema,
};

/*
 * An agent's outbox may hold envelopes through a long outage; the ledger, not the age, decides whether
 * an order for a past interval is still any good (it refuses it with a code the agent then learns).
 */
const LEDGER_MAX_AGE_MS = 7 * 86_400_000;

/** The ledger's id of an agent envelope: `${from}:${seq}`. */
export function envelopeKey(env: { from: string; seq: number }): string {
  return `${env.from}:${env.seq}`;
}

/**
 * Registers the ledger message types on ingest: each accepted envelope is written to the ledger outbox
 * inside ingest's batch transaction (so the receipt follows its durable storage), and `accepted` then
 * submits it. A bill's signature is the seller's; `credit.bill` must come from the seller it names.
 * A `checks` entry runs first, inside the same transaction, and may refuse the envelope with its code.
 */
export function registerLedgerHandlers(
  ingest: Ingest,
  outbox: LedgerOutbox,
  accepted: (env: Envelope, kind: PendingKind) => void,
  /** per type, a check against what is stored that may refuse the envelope (IngestRefusal) */
  checks: Readonly<Record<string, (env: Envelope, body: unknown) => void>> = {},
): void {
  const handler = (kind: PendingKind, parse: (body: unknown) => unknown) => ({
    maxAgeMs: LEDGER_MAX_AGE_MS,
    parse,
    store: (_db: unknown, env: Envelope, body: unknown, raw: string) => {
      checks[env.type]?.(env, body);
      outbox.add(envelopeKey(env), env.from, kind, raw);
      // after the transaction commits
      setImmediate(() => accepted(env, kind));
    },
  });
  for (const [type, schema] of Object.entries(LEDGER_MESSAGE_SCHEMAS))
    ingest.registerHandler(
      type,
      handler("tx", (b) => schema.parse(b)),
    );
  ingest.registerHandler(
    MSG_CREDIT_BILL,
    handler("bill", (b) => creditBillSchema.parse(b)),
  );
}
