import { voteBytes } from "../ledger/block.js";
import type { Signer } from "../ledger/signing.js";
import { type ViewChange, viewChangeBytes } from "./messages.js";
import type { Slot } from "./slot.js";
import type { VoteRecord } from "./types.js";

/**
 * Puts back into a slot what its member signed there before a restart (its persisted VoteRecords): the
 * view it had moved to, the blocks it voted for (so it never signs another), its prepared certificate.
 *
 * The messages themselves were lost with the member's memory, but the slot timer re-sends `mine` until
 * the slot moves: without them, a member restored in a view change would wait for ever for peers that
 * never heard its view change (found by the simulator's power-cut sweep). They are signed again from the
 * records: the same statements (ed25519 signatures are deterministic), so nothing new is promised.
 * Returns the view change re-signed, for the caller to count among the slot's.
 */
export function restoreSlot(
  s: Slot,
  records: readonly VoteRecord[],
  self: string,
  signer: Signer,
): ViewChange | undefined {
  let lastVc: VoteRecord | undefined;
  const lastVote = new Map<"prepare" | "commit", VoteRecord>();
  for (const r of records) {
    if (r.kind === "vc") {
      if (r.view > s.view) {
        s.view = r.view;
        s.inViewChange = true;
      }
      if (lastVc === undefined || r.view > lastVc.view) lastVc = r;
    } else if (typeof r.hash === "string") {
      s.signed.set(`${r.kind}:${r.view}`, r.hash);
      if (r.kind === "commit") s.sentCommit.add(r.view);
      const before = lastVote.get(r.kind);
      if (before === undefined || r.view > before.view) lastVote.set(r.kind, r);
    }
    if (r.prepared && (s.prepared === null || r.prepared.view > s.prepared.view)) s.prepared = r.prepared;
  }
  const { round, index } = s;
  for (const [kind, r] of lastVote) {
    const hash = r.hash as string;
    const sig = signer.sign(voteBytes(kind, round, index, r.view, hash));
    s.mine.set(kind, { t: kind, from: self, round, index, view: r.view, hash, sig });
  }
  if (lastVc === undefined || lastVc.view !== s.view) return undefined;
  const unsigned = { round, index, view: lastVc.view, prepared: lastVc.prepared ?? null };
  const vc: ViewChange = { t: "vc", from: self, ...unsigned, sig: signer.sign(viewChangeBytes(unsigned)) };
  s.mine.set("vc", vc);
  return vc;
}
