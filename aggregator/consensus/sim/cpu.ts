import type { Signer, Verifier } from "../../ledger/signing.js";

/**
 * A CPU-cost model for the simulator (issue 12, liveness under starvation): each replica has its own
 * clock of work; a step costs `stepMs` plus `verifyMs` per signature it checked and `signMs` per signature
 * it made, times the replica's slowness. While a replica is busy, what arrives for it (messages, timers)
 * waits; what it sends leaves when the step is done. A slow member (a starved process, a slow disk) is one
 * with a large factor in `slow`.
 */
export interface CpuModel {
  stepMs: number;
  verifyMs: number;
  signMs: number;
  /** cost multiplier per member id (default 1) */
  slow?: Readonly<Record<string, number>>;
}

/** What one replica did: signatures checked and made, counted through its signer and verifier. */
export class CpuMeter {
  verifies = 0;
  signs = 0;
  /** simulated time until which the replica is busy */
  busyUntil = 0;
  /** total simulated work, ms */
  workMs = 0;

  signer(inner: Signer): Signer {
    return {
      id: inner.id,
      sign: (bytes) => {
        this.signs++;
        return inner.sign(bytes);
      },
    };
  }

  verifier(inner: Verifier): Verifier {
    return {
      verify: (member, bytes, sig) => {
        this.verifies++;
        return inner.verify(member, bytes, sig);
      },
    };
  }

  /** The cost of the work done since `before` (a snapshot of the counters). */
  cost(model: CpuModel, id: string, before: { verifies: number; signs: number }): number {
    const work =
      model.stepMs +
      (this.verifies - before.verifies) * model.verifyMs +
      (this.signs - before.signs) * model.signMs;
    const ms = work * (model.slow?.[id] ?? 1);
    this.workMs += ms;
    return ms;
  }
}
