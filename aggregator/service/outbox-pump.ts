import type { Envelope } from "../../protocol/envelope.js";
import { describeError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";
import type { AggregatorNode } from "../node/node.js";
import type { BillDesk } from "./bill-desk.js";
import type { Downlink } from "./downlink.js";
import type { LedgerOutbox, PendingRow } from "./outbox.js";
import type { IdentityRegistrar } from "./registrar.js";

/**
 * The outbox pump: agent envelopes that ingest accepted for the ledger wait in the durable outbox until
 * the consortium commits them. Each pass submits what is due (new, or not committed after
 * `resubmitMs`): bills to the bill desk, the rest to the node once their sender is registered. An
 * envelope the node refuses before consensus is answered with a REFUSED result and dropped.
 */
export class OutboxPump {
  private scheduled = false;

  constructor(
    private readonly o: {
      node: AggregatorNode;
      outbox: LedgerOutbox;
      bills: BillDesk;
      registrar: IdentityRegistrar;
      downlink: Downlink;
      started: () => boolean;
      now: () => number;
      resubmitMs: number;
      log: Logger;
    },
  ) {}

  /** One pass over the outbox on the next turn of the event loop, however many envelopes arrive first. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  pump(): void {
    if (!this.o.started()) return;
    for (const row of this.o.outbox.due(this.o.now() - this.o.resubmitMs)) {
      try {
        this.submit(row);
      } catch (e) {
        this.o.log.error("cannot submit a pending envelope", { key: row.key, error: describeError(e) });
      }
    }
  }

  private submit(row: PendingRow): void {
    if (row.kind === "bill") {
      this.o.bills.submit(row);
      return;
    }
    if (!this.o.registrar.ensure(row.agent)) return;
    const env = JSON.parse(row.raw) as Envelope;
    if (this.o.node.submit(env)) {
      this.o.outbox.markSent(row.key, this.o.now());
      return;
    }
    this.o.outbox.remove(row.key);
    this.o.downlink.txResult(row.agent, {
      txId: row.key,
      ok: false,
      code: "REFUSED",
      message: "refused before consensus (signature or shape)",
    });
  }
}
