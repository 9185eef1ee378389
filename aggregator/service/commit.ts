import type { Envelope } from "../../protocol/envelope.js";
import type { Logger } from "../../protocol/log.js";
import type { CreditGrantTx } from "../../protocol/messages/credit.js";
import { tokenOf } from "../credit/state.js";
import type { BlockStore } from "../ledger/store.js";
import type { LedgerMachine } from "../node/machine.js";
import type { CommitOutput } from "../node/node.js";
import { agentsOfEvent, type LedgerEvent } from "../state/events.js";
import { fillsFromEvents } from "../state/messages.js";
import { agentView } from "../state/views.js";
import type { Downlink } from "./downlink.js";
import { envelopeKey } from "./handlers.js";
import type { LedgerOutbox } from "./outbox.js";

export interface CommitRelayOptions {
  self: string;
  outbox: LedgerOutbox;
  downlink: Downlink;
  /** agents of other homes served here */
  guests: ReadonlySet<string>;
  machine: () => LedgerMachine;
  blockStore: BlockStore;
  log: Logger;
}

/**
 * After each commit: clears the outbox of what the block carried and tells the agents served here (this
 * aggregator's own, and guests failing over from another home) their results, fills, account views
 * and credit grants. The node's own CommitOutput lists only home agents, so fills and views are
 * computed here from the applied events for both.
 */
export class CommitRelay {
  constructor(private readonly o: CommitRelayOptions) {}

  private serves(agent: string): boolean {
    return this.o.guests.has(agent) || this.o.machine().registry.agent(agent)?.home === this.o.self;
  }

  /** The envelopes of block `height`, to name the transactions that have no ledger id (refused early). */
  private txsOf(height: number): Envelope[] {
    return (this.o.blockStore.get(height)?.block.txs ?? []) as Envelope[];
  }

  onCommit(out: CommitOutput): void {
    const machine = this.o.machine();
    const events: LedgerEvent[] = [];
    const touched = new Set<string>();
    const byHeight = new Map<number, typeof out.applied>();
    for (const a of out.applied) {
      const list = byHeight.get(a.height) ?? [];
      list.push(a);
      byHeight.set(a.height, list);
    }
    for (const [height, applied] of byHeight) {
      // one applied entry per transaction of the block, in order (a proof-of-work reward included)
      const txs = this.txsOf(height);
      const aligned = txs.length === applied.length;
      applied.forEach((a, i) => {
        const env = aligned ? txs[i] : undefined;
        const key =
          env !== undefined &&
          typeof env === "object" &&
          typeof env.from === "string" &&
          typeof env.seq === "number"
            ? envelopeKey(env)
            : a.txId;
        if (a.result.ok) {
          for (const e of a.result.events) {
            events.push(e);
            for (const agent of agentsOfEvent(e, machine.subjects))
              if (this.serves(agent)) touched.add(agent);
          }
          if (env !== undefined && a.type === "sys") {
            this.grant(env);
            // a paid bill credits the seller's wallet, which no event names
            const seller = paidSeller(env);
            if (seller !== undefined && this.serves(seller)) touched.add(seller);
          }
        }
        if (key === undefined) return;
        const pending = this.o.outbox.remove(key);
        const code = a.result.ok ? undefined : a.result.code;
        if (!pending && (code === "REPLAY" || machine.registry.authorityKey(a.from) !== undefined)) return;
        if (!pending && !this.serves(a.from)) return;
        touched.add(a.from);
        this.o.downlink.txResult(
          a.from,
          a.result.ok
            ? { txId: key, ok: true }
            : { txId: key, ok: false, code: a.result.code, message: a.result.message.slice(0, 1000) },
        );
      });
    }
    for (const f of fillsFromEvents(events)) if (this.serves(f.to)) this.o.downlink.fill(f.to, f.fill);
    for (const agent of [...touched].sort()) {
      const v = agentView(machine.state, agent);
      if (v !== null) this.o.downlink.view(v);
    }
  }

  /** A committed `credit.grant` goes to its borrower with the token as the bank signed it. */
  private grant(env: Envelope): void {
    const tx = env.body as { type?: string; body?: CreditGrantTx } | undefined;
    if (tx?.type !== "credit.grant" || tx.body === undefined) return;
    const loan = this.o.machine().credit().loans[tx.body.loanId];
    if (loan === undefined || !this.serves(loan.borrower)) return;
    const token =
      loan.tokenSig !== null && loan.sharedWallet === tx.body.sharedWallet
        ? { ...tokenOf(loan), sig: loan.tokenSig }
        : undefined;
    this.o.downlink.grant(loan.borrower, token === undefined ? tx.body : { ...tx.body, token });
  }
}

function paidSeller(env: Envelope): string | undefined {
  const tx = env.body as { type?: string; body?: { bill?: { seller?: unknown } } } | undefined;
  const seller = tx?.type === "credit.pay" ? tx.body?.bill?.seller : undefined;
  return typeof seller === "string" ? seller : undefined;
}
