import { hashJson } from "../../protocol/hash.js";
import type { ApplyContext, ApplyResult, ReplicatedStateMachine } from "../state/replicated.js";

/** A test transaction: add `add` to counter `key`; `id` makes replays detectable. */
export interface KvTx {
  id: string;
  key: string;
  add: number;
}

/**
 * A small deterministic state machine for consensus tests and the bench: integer counters plus the set of
 * applied transaction ids (a replayed id is rejected), and the height and proposer of the last block, so
 * that two replicas agree on the state hash only if they applied the same transactions in the same order.
 */
export class KvMachine implements ReplicatedStateMachine<unknown> {
  private readonly counters = new Map<string, number>();
  private readonly applied = new Set<string>();
  private trail = "";

  apply(tx: unknown, ctx: ApplyContext): ApplyResult {
    const r = tx as { kind?: unknown; id?: unknown; to?: unknown; amount?: unknown };
    if (r?.kind === "reward" && typeof r.to === "string" && Number.isSafeInteger(r.amount)) {
      // Proof-of-work mode pays its leader: a counter per rewarded member stands in for a mint.
      return this.apply({ id: String(r.id), key: `reward:${r.to}`, add: r.amount as number }, ctx);
    }
    const t = tx as KvTx;
    if (typeof t !== "object" || t === null || typeof t.id !== "string" || typeof t.key !== "string") {
      return { ok: false, code: "MALFORMED", message: "not a counter transaction" };
    }
    if (!Number.isSafeInteger(t.add))
      return { ok: false, code: "MALFORMED", message: "add must be an integer" };
    if (this.applied.has(t.id))
      return { ok: false, code: "REPLAY", message: `transaction ${t.id} already applied` };
    this.applied.add(t.id);
    this.counters.set(t.key, (this.counters.get(t.key) ?? 0) + t.add);
    // The order matters: the trail is a running hash over (height, id).
    this.trail = hashJson([this.trail, ctx.height, t.id]);
    return { ok: true };
  }

  stateHash(): string {
    return hashJson(this.snapshot());
  }

  snapshot(): unknown {
    return {
      counters: [...this.counters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      applied: this.applied.size,
      trail: this.trail,
    };
  }

  has(id: string): boolean {
    return this.applied.has(id);
  }
}
