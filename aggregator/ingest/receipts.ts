import { encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import { MSG_RECEIPT, type ReceiptBody } from "../../protocol/messages/readings.js";
import { topics } from "../../protocol/topics.js";

export interface ReceiptSender {
  send(topic: string, payload: Buffer): void;
}

interface Pending {
  acks: number[];
  rejected: ReceiptBody["rejected"];
  highestSeq?: number;
}

/**
 * Collects acknowledgements per agent and signs one receipt for many envelopes: signing per envelope
 * would cost the aggregator as much as verifying, halving its ingest rate.
 */
export class ReceiptBatcher {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  sent = 0;

  constructor(
    private readonly o: {
      aggregatorId: string;
      seed: Uint8Array;
      nextSeq: () => number;
      now: () => number;
      delayMs: number;
      maxPerReceipt: number;
      sender: ReceiptSender;
    },
  ) {}

  ack(agent: string, seq: number): void {
    const p = this.entry(agent);
    p.acks.push(seq);
    if (p.acks.length >= this.o.maxPerReceipt) this.sendOne(agent);
    else this.schedule();
  }

  /** `highestSeq`: the highest sequence stored from the agent, told along with an EQUIVOCATION. */
  reject(agent: string, seq: number, code: string, reason: string, highestSeq?: number): void {
    const p = this.entry(agent);
    p.rejected.push({ seq, code, reason: reason.slice(0, 500) });
    if (highestSeq !== undefined) p.highestSeq = Math.max(p.highestSeq ?? highestSeq, highestSeq);
    this.schedule();
  }

  private entry(agent: string): Pending {
    let p = this.pending.get(agent);
    if (p === undefined) {
      p = { acks: [], rejected: [] };
      this.pending.set(agent, p);
    }
    return p;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.o.delayMs);
  }

  flush(): void {
    for (const agent of [...this.pending.keys()]) this.sendOne(agent);
  }

  private sendOne(agent: string): void {
    const p = this.pending.get(agent);
    if (p === undefined) return;
    this.pending.delete(agent);
    const body: ReceiptBody = { to: agent, acks: p.acks, rejected: p.rejected };
    if (p.highestSeq !== undefined) body.highestSeq = p.highestSeq;
    const env = signEnvelope(
      { type: MSG_RECEIPT, from: this.o.aggregatorId, seq: this.o.nextSeq(), ts: this.o.now(), body },
      this.o.seed,
    );
    this.o.sender.send(topics.agentDown(agent), encodeEnvelope(env));
    this.sent += 1;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
