import type { Block, VoteSig } from "../ledger/block.js";
import { batchLevels, batchProof } from "../ledger/vote-batch.js";
import type { Message, PreparedCert, ViewChange } from "./messages.js";
import type { Decision } from "./types.js";

/**
 * A batch of votes as a replica holds it: the signer, the leaves, and the signature once it has one (our
 * own batch is signed when it is sent). The tree's levels are built only when a certificate needs a proof.
 */
export interface BatchRecord {
  from: string;
  sig: string | undefined;
  leaves: Uint8Array[];
  levels?: Uint8Array[][];
}

/** A vote held in a slot: signed alone, or leaf `at` of a batch. */
export type HeldVote = { sig: string } | { batch: BatchRecord; at: number };

/** True while the vote sits in our own batch that is not signed yet. */
export function unsigned(v: HeldVote): boolean {
  return "batch" in v && v.batch.sig === undefined;
}

/** The vote in certificate form (block.ts VoteSig), with its Merkle proof when it was batched. */
export function certVote(from: string, v: HeldVote): VoteSig {
  if ("sig" in v) return { from, sig: v.sig };
  const b = v.batch;
  if (b.sig === undefined) throw new Error("a certificate cannot hold a vote that is not signed yet");
  b.levels ??= batchLevels(b.leaves);
  return { from, sig: b.sig, batch: batchProof(b.levels, v.at) };
}

/** Everything one replica knows about one slot (round, index): a PBFT instance of its own. */
export interface Slot {
  round: number;
  index: number;
  /** first view: 0, or 1 when the lane's leader is being passed over */
  v0: number;
  view: number;
  /** a view change to `view` is under way and no new-view has been accepted yet */
  inViewChange: boolean;
  blocks: Map<string, Block>;
  /** the proposal accepted in each view */
  accepted: Map<number, string>;
  /**
   * block hash → kind and view (`voteSlot`) → voter → vote. Keyed by the hash string as it arrived, not by
   * a string built per lookup: every vote of every batch is looked up here, and a built key is a new
   * string to allocate and hash each time (a tenth of the simulator's time).
   */
  votes: Map<string, Map<number, Map<string, HeldVote>>>;
  sentCommit: Set<number>;
  prepared: PreparedCert | null;
  viewChanges: Map<number, Map<string, ViewChange>>;
  sentNewView: Set<number>;
  decided: Decision | undefined;
  timerArmed: boolean;
  /** when the armed timer is due (a timer that runs much later means we are behind on our own input) */
  due: number;
  ticks: number;
  /** peers whose vote in the slot's view came in since its timer last ran (replica.ts, onTimer) */
  heard: Set<string>;
  /** ticks the slot was let off in its view for news (replica.ts, onTimer) */
  spared: number;
  /** when the slot's timer first ran (for the pace of decisions), and re-sends since the view began */
  startedAt: number | undefined;
  resends: number;
  /** my latest messages in the slot, re-sent when it stalls */
  mine: Map<string, Message>;
  /** what I signed, `${kind}:${view}` → block hash, including before a restart */
  signed: Map<string, string>;
}

export function newSlot(round: number, index: number, v0: number): Slot {
  return {
    round,
    index,
    v0,
    view: v0,
    inViewChange: false,
    blocks: new Map(),
    accepted: new Map(),
    votes: new Map(),
    sentCommit: new Set(),
    prepared: null,
    viewChanges: new Map(),
    sentNewView: new Set(),
    decided: undefined,
    timerArmed: false,
    due: 0,
    ticks: 0,
    heard: new Set(),
    spared: 0,
    startedAt: undefined,
    resends: 0,
    mine: new Map(),
    signed: new Map(),
  };
}

/** The kind and view of a vote as one number: 2·view, plus one for a commit. */
function voteSlot(kind: "prepare" | "commit", view: number): number {
  return 2 * view + (kind === "commit" ? 1 : 0);
}

/** The voters of (kind, view, hash) so far, created empty when there are none. */
export function votesOf(
  slot: Slot,
  kind: "prepare" | "commit",
  view: number,
  hash: string,
): Map<string, HeldVote> {
  let byView = slot.votes.get(hash);
  if (byView === undefined) {
    byView = new Map();
    slot.votes.set(hash, byView);
  }
  const k = voteSlot(kind, view);
  let m = byView.get(k);
  if (m === undefined) {
    m = new Map();
    byView.set(k, m);
  }
  return m;
}

/** True when some member's prepare or commit in `view` is held, for any block; creates nothing. */
export function votedIn(slot: Slot, view: number): boolean {
  for (const byView of slot.votes.values()) {
    if ((byView.get(voteSlot("prepare", view))?.size ?? 0) > 0) return true;
    if ((byView.get(voteSlot("commit", view))?.size ?? 0) > 0) return true;
  }
  return false;
}

/** True when `voter`'s vote for (kind, view, hash) is held; creates nothing. */
export function hasVote(
  slot: Slot,
  kind: "prepare" | "commit",
  view: number,
  hash: string,
  voter: string,
): boolean {
  return slot.votes.get(hash)?.get(voteSlot(kind, view))?.has(voter) === true;
}

/** `count` votes for a certificate, signed ones first (our own may still wait in an unsent batch). */
export function firstVotes(m: Map<string, HeldVote>, count: number): VoteSig[] {
  const ready = [...m].filter(([, v]) => !unsigned(v));
  const rest = [...m].filter(([, v]) => unsigned(v));
  return [...ready, ...rest].slice(0, count).map(([from, v]) => certVote(from, v));
}

/** True when a certificate of `count` votes from `m` needs a vote not signed yet. */
export function needsUnsigned(m: Map<string, HeldVote>, count: number): boolean {
  let ready = 0;
  for (const v of m.values()) if (!unsigned(v)) ready++;
  return ready < count && ready < m.size;
}
