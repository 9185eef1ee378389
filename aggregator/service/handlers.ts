import type { Envelope } from "../../protocol/envelope.js";
import { creditBillSchema } from "../../protocol/messages/credit.js";
import { agentTxId, MSG_CREDIT_BILL } from "../../protocol/messages/downlink.js";
import type { Ingest } from "../ingest/ingest.js";
import type { Refusal } from "../ingest/store.js";
import { agentLedgerMessages } from "../state/messages.js";
import type { LedgerOutbox, PendingKind } from "./outbox.js";

/*
 * An agent's outbox may hold envelopes through a long outage; the ledger, not the age, decides whether
 * an order for a past interval is still any good (it refuses it with a code the agent then learns).
 */
const LEDGER_MAX_AGE_MS = 7 * 86_400_000;

/** The ledger's id of an agent envelope: `${from}:${seq}`. */
export function envelopeKey(env: { from: string; seq: number }): string {
  return agentTxId(env.from, env.seq);
}

/**
 * Registers the ledger message types on ingest: each accepted envelope is written to the ledger outbox
 * inside ingest's batch transaction (so the receipt follows its durable storage), and `accepted` then
 * submits it. A bill's signature is the seller's; `credit.bill` must come from the seller it names.
 * A `checks` entry runs first, inside the same transaction, and may refuse the envelope for good.
 */
export function registerLedgerHandlers(
  ingest: Ingest,
  outbox: LedgerOutbox,
  accepted: (env: Envelope, kind: PendingKind) => void,
  /** a quota on new ledger transactions per sender (a resent one already stored is not counted) */
  admit?: (env: Envelope) => { code: string; reason: string } | undefined,
  /** per type, a check against what is stored that may refuse the envelope (e.g. SUMMARY_MISMATCH) */
  checks: Readonly<Record<string, (env: Envelope, body: unknown) => Refusal | undefined>> = {},
): void {
  const handler = (kind: PendingKind, parse: (body: unknown) => unknown) => ({
    maxAgeMs: LEDGER_MAX_AGE_MS,
    reverified: true,
    parse,
    ...(admit === undefined ? {} : { admit }),
    refuse: (_db: unknown, env: Envelope, body: unknown) => checks[env.type]?.(env, body),
    store: (_db: unknown, env: Envelope, _body: unknown, raw: string) => {
      outbox.add(envelopeKey(env), env.from, kind, raw);
      // after the transaction commits
      setImmediate(() => accepted(env, kind));
    },
  });
  // the agent envelopes of the ledger's message table, checked against the same body schemas as the core
  for (const [type, m] of agentLedgerMessages())
    ingest.registerHandler(
      type,
      handler("tx", (b) => m.body.parse(b)),
    );
  ingest.registerHandler(
    MSG_CREDIT_BILL,
    handler("bill", (b) => creditBillSchema.parse(b)),
  );
}
