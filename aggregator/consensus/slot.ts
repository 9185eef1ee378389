import type { Block, VoteSig } from "../ledger/block.js";
import type { Message, PreparedCert, ViewChange } from "./messages.js";
import type { Decision } from "./types.js";

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
  /** `${kind}:${view}:${hash}` → voter → signature */
  votes: Map<string, Map<string, string>>;
  sentCommit: Set<number>;
  prepared: PreparedCert | null;
  viewChanges: Map<number, Map<string, ViewChange>>;
  sentNewView: Set<number>;
  decided: Decision | undefined;
  timerArmed: boolean;
  ticks: number;
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
    ticks: 0,
    mine: new Map(),
    signed: new Map(),
  };
}

export function voteKey(kind: "prepare" | "commit", view: number, hash: string): string {
  return `${kind}:${view}:${hash}`;
}

export function votesOf(
  slot: Slot,
  kind: "prepare" | "commit",
  view: number,
  hash: string,
): Map<string, string> {
  const key = voteKey(kind, view, hash);
  let m = slot.votes.get(key);
  if (m === undefined) {
    m = new Map();
    slot.votes.set(key, m);
  }
  return m;
}

export function firstVotes(m: Map<string, string>, count: number): VoteSig[] {
  return [...m].slice(0, count).map(([from, sig]) => ({ from, sig }));
}
