import type { Signer } from "../ledger/signing.js";
import { batchRoot, batchSigningBytes, voteLeaf } from "../ledger/vote-batch.js";
import type { BatchedVote, VoteBatch } from "./messages.js";
import type { BatchRecord, HeldVote, Slot } from "./slot.js";
import type { VoteRecord } from "./types.js";

/**
 * This replica's votes waiting to go out in its next batch. Each vote is recorded in its slot at once
 * (as leaf `at` of the pending batch); the batch is signed and sent when the replica flushes it, after
 * its votes' records (persisted by the shell in one write), and becomes the message re-sent for each of
 * its slots when they stall.
 */
export class OutgoingVotes {
  private votes: BatchedVote[] = [];
  private slots: { s: Slot; kind: "prepare" | "commit" }[] = [];
  private records: VoteRecord[] = [];
  private rec: BatchRecord | undefined;
  /** rounds with a vote of each kind waiting */
  readonly rounds = { prepare: new Set<number>(), commit: new Set<number>() };

  get size(): number {
    return this.votes.length;
  }

  add(
    s: Slot,
    kind: "prepare" | "commit",
    view: number,
    hash: string,
    from: string,
    /** to persist with the batch; undefined when already persisted */
    record: VoteRecord | undefined,
  ): HeldVote {
    this.rec ??= { from, sig: undefined, leaves: [] };
    const at = this.votes.length;
    this.votes.push({ kind, round: s.round, index: s.index, view, hash });
    this.rec.leaves.push(voteLeaf(kind, s.round, s.index, view, hash));
    this.slots.push({ s, kind });
    if (record !== undefined) this.records.push(record);
    this.rounds[kind].add(s.round);
    return { batch: this.rec, at };
  }

  /** Signs the waiting votes as one batch, with their records to persist first; undefined when none wait. */
  flush(signer: Signer): { msg: VoteBatch; records: VoteRecord[] } | undefined {
    const rec = this.rec;
    if (rec === undefined || this.votes.length === 0) return undefined;
    rec.sig = signer.sign(batchSigningBytes(batchRoot(rec.leaves)));
    const msg: VoteBatch = { t: "votes", from: rec.from, votes: this.votes, sig: rec.sig };
    for (const { s, kind } of this.slots) s.mine.set(kind, msg);
    const records = this.records;
    this.votes = [];
    this.slots = [];
    this.records = [];
    this.rec = undefined;
    this.rounds.prepare.clear();
    this.rounds.commit.clear();
    return { msg, records };
  }
}
