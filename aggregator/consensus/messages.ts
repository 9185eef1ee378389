import { canonicalJson, signingBytes } from "../../protocol/canonical.js";
import { sha256 } from "../../protocol/hash.js";
import type { Block, LedgerEntry, QuorumCertificate, VoteSig } from "../ledger/block.js";
import type { BatchProof } from "../ledger/vote-batch.js";
import type { PowMessage } from "./pow/messages.js";

export const VIEW_CHANGE_DOMAIN = "gridlet/view-change/v1";
export const NEW_VIEW_DOMAIN = "gridlet/new-view/v1";
export const VIEW_CHANGE_BATCH_DOMAIN = "gridlet/view-change-batch/v1";

/** Proposal in a slot's first view: the block carries the leader's signature. */
export interface PrePrepare {
  t: "pp";
  from: string;
  block: Block;
  /** set on retransmissions: a peer that already decided the slot answers with the decision */
  re?: boolean;
}

export interface Vote {
  t: "prepare" | "commit";
  from: string;
  round: number;
  index: number;
  view: number;
  hash: string;
  sig: string;
  re?: boolean;
}

/** One vote inside a batch; the batch's signature covers it (aggregator/ledger/vote-batch.ts). */
export interface BatchedVote {
  kind: "prepare" | "commit";
  round: number;
  index: number;
  view: number;
  hash: string;
}

/**
 * A member's votes of any slots, signed together: `sig` is over signingBytes("gridlet/vote-batch/v1",
 * {root}) where root is the Merkle root of the votes' leaves in this order. One signature check per batch.
 */
export interface VoteBatch {
  t: "votes";
  from: string;
  votes: BatchedVote[];
  sig: string;
  re?: boolean;
}

/** A block prepared by 2f+1 in some view: it must survive any later view change of its slot. */
export interface PreparedCert {
  view: number;
  block: Block;
  votes: VoteSig[];
}

export interface ViewChange {
  t: "vc";
  from: string;
  round: number;
  index: number;
  /** the view being moved to */
  view: number;
  prepared: PreparedCert | null;
  /** over viewChangeBytes(this), or, with `batch`, over viewChangeBatchBytes(root) of its batch */
  sig: string;
  /** where the view change sits in the batch it was signed in (as a batched vote's proof) */
  batch?: BatchProof;
  re?: boolean;
}

/** One view change inside a batch; the batch's signature covers it. */
export interface BatchedViewChange {
  round: number;
  index: number;
  view: number;
  prepared: PreparedCert | null;
}

/**
 * A member's view changes of several slots, signed together as votes are (docs/PROTOCOL-BLOCKS.md,
 * "View-change batches"): `sig` is over viewChangeBatchBytes(root), root the Merkle root of the view
 * changes' leaves in this order. A member whose slots all time out together signs once, and each peer
 * checks one signature, instead of one per slot.
 */
export interface ViewChangeBatch {
  t: "vcs";
  from: string;
  vcs: BatchedViewChange[];
  sig: string;
  re?: boolean;
}

/** The new leader's proof (2f+1 view changes) and the block it chose by PBFT's rule. */
export interface NewView {
  t: "nv";
  from: string;
  round: number;
  index: number;
  view: number;
  vcs: ViewChange[];
  block: Block;
  sig: string;
  re?: boolean;
}

export interface Checkpoint {
  t: "ckpt";
  from: string;
  /** rounds fully executed */
  round: number;
  stateHash: string;
  link: string;
  sig: string;
}

/** A decision with its certificate, sent to a peer that is still working on the slot. */
export interface Decided {
  t: "decided";
  from: string;
  seq: number;
  block: Block;
  qc: QuorumCertificate;
}

/** Asks a peer for decided blocks from `fromSeq` on; the shell answers from its block store. */
export interface Fetch {
  t: "fetch";
  from: string;
  fromSeq: number;
}

export interface Blocks {
  t: "blocks";
  from: string;
  entries: LedgerEntry[];
}

/** Client transactions handed on by a member whose own lane is passed over, to the member leading it. */
export interface Forward {
  t: "fwd";
  from: string;
  txs: unknown[];
}

export type Message =
  | PrePrepare
  | Vote
  | VoteBatch
  | ViewChange
  | ViewChangeBatch
  | NewView
  | Checkpoint
  | Decided
  | Fetch
  | Blocks
  | Forward
  | PowMessage;

/** What a view change's signature covers: its slot, view, and the prepared block's header and view. */
function viewChangeContent(vc: BatchedViewChange): object {
  const p = vc.prepared;
  return {
    round: vc.round,
    index: vc.index,
    view: vc.view,
    prepared: p === null ? null : { view: p.view, header: p.block.header },
  };
}

export function viewChangeBytes(vc: BatchedViewChange): Uint8Array {
  return signingBytes(VIEW_CHANGE_DOMAIN, viewChangeContent(vc));
}

/** A view change's leaf in its batch: SHA-256(0x00 || JCS text of what viewChangeBytes covers). */
export function viewChangeLeaf(vc: BatchedViewChange): Uint8Array {
  return sha256(`\u0000${canonicalJson(viewChangeContent(vc))}`);
}

/** What a view-change batch's signer signs: signingBytes("gridlet/view-change-batch/v1", {root}). */
export function viewChangeBatchBytes(root: string): Uint8Array {
  return signingBytes(VIEW_CHANGE_BATCH_DOMAIN, { root });
}

export function newViewBytes(round: number, index: number, view: number, hash: string): Uint8Array {
  return signingBytes(NEW_VIEW_DOMAIN, { round, index, view, block: hash });
}

export { checkpointSigningBytes as checkpointBytes } from "../ledger/checkpoint-bytes.js";
