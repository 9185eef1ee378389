import { blockHash, checkBlock } from "../ledger/block.js";
import { isLedgerError } from "../ledger/errors.js";
import { EMPTY_MERKLE_ROOT } from "../ledger/merkle.js";
import type { Verifier } from "../ledger/signing.js";
import { checkCertVote, rootFromProof } from "../ledger/vote-batch.js";
import {
  type NewView,
  newViewBytes,
  type ViewChange,
  viewChangeBatchBytes,
  viewChangeBytes,
  viewChangeLeaf,
} from "./messages.js";

/*
 * Validation of view changes, after PBFT (Castro & Liskov, OSDI 1999, §4.4): a view change carries the
 * sender's highest prepared certificate; the new leader gathers 2f+1 of them and must re-propose the block
 * of the highest prepared view, or an empty block when none was prepared. Any replica can re-check that
 * choice from the new-view message alone.
 */

export interface MemberInfo {
  members: readonly string[];
  quorum: number;
  verifier: Verifier;
}

/**
 * Returns a reason when the view change is invalid, undefined when it is sound. `signatureChecked`: its
 * batch's signature was checked already (the rest is checked all the same).
 */
export function checkViewChange(vc: ViewChange, m: MemberInfo, signatureChecked = false): string | undefined {
  if (!m.members.includes(vc.from)) return "view change from a non-member";
  if (!Number.isSafeInteger(vc.view) || vc.view < 1) return "view change to a bad view";
  if (!signatureChecked && !viewChangeSigned(vc, m.verifier)) return "bad view-change signature";
  const p = vc.prepared;
  if (p === null) return undefined;
  if (
    typeof p !== "object" ||
    !Number.isSafeInteger(p.view) ||
    p.view >= vc.view ||
    !Array.isArray(p.votes)
  ) {
    return "malformed prepared certificate";
  }
  let hash: string;
  try {
    hash = checkBlock(p.block, m.verifier);
  } catch (e) {
    return isLedgerError(e) ? `prepared block: ${e.message}` : "prepared block invalid";
  }
  if (p.block.header.round !== vc.round || p.block.header.index !== vc.index)
    return "prepared block of another slot";
  const voters = new Set<string>();
  for (const v of p.votes) {
    if (!m.members.includes(v?.from) || voters.has(v.from)) return "prepared certificate with a bad voter";
    if (!checkCertVote(v, "prepare", vc.round, vc.index, p.view, hash, m.verifier))
      return "prepared certificate with a bad signature";
    voters.add(v.from);
  }
  return voters.size >= m.quorum ? undefined : "prepared certificate below quorum";
}

/**
 * The view change's signature: its own over viewChangeBytes, or its batch's, from the root its proof
 * leads to (one check per batch with a caching verifier, however many of its view changes arrive).
 */
export function viewChangeSigned(vc: ViewChange, verifier: Verifier): boolean {
  try {
    if (vc.batch === undefined) return verifier.verify(vc.from, viewChangeBytes(vc), vc.sig);
    const root = rootFromProof(viewChangeLeaf(vc), vc.batch);
    return root !== undefined && verifier.verify(vc.from, viewChangeBatchBytes(root), vc.sig);
  } catch {
    return false; // a prepared certificate without a block, a value that is not JSON: nothing was signed
  }
}

/** Checks a new-view message: its proof, the leader's signature and PBFT's choice of block. */
export function checkNewView(nv: NewView, leader: string, m: MemberInfo): string | undefined {
  if (nv.from !== leader) return `new view ${nv.view} from ${nv.from}, not its leader ${leader}`;
  if (!Array.isArray(nv.vcs)) return "new view without view changes";
  let hash: string;
  try {
    hash = checkBlock(nv.block, m.verifier);
  } catch (e) {
    return isLedgerError(e) ? `new-view block: ${e.message}` : "new-view block invalid";
  }
  if (!m.verifier.verify(nv.from, newViewBytes(nv.round, nv.index, nv.view, hash), nv.sig)) {
    return "bad new-view signature";
  }
  const senders = new Set<string>();
  let best: ViewChange["prepared"] = null;
  for (const vc of nv.vcs) {
    if (vc?.round !== nv.round || vc.index !== nv.index || vc.view !== nv.view)
      return "view change of another view";
    if (senders.has(vc.from)) return "duplicate view change";
    const why = checkViewChange(vc, m);
    if (why !== undefined) return why;
    senders.add(vc.from);
    if (vc.prepared !== null && (best === null || vc.prepared.view > best.view)) best = vc.prepared;
  }
  if (senders.size < m.quorum) return "new view with fewer than 2f+1 view changes";
  const h = nv.block.header;
  if (best !== null) {
    return blockHash(best.block.header) === hash ? undefined : "new view drops a prepared block";
  }
  const empty =
    h.round === nv.round &&
    h.index === nv.index &&
    h.view === nv.view &&
    h.proposer === nv.from &&
    h.txCount === 0 &&
    h.txRoot === EMPTY_MERKLE_ROOT;
  return empty ? undefined : "new view must propose an empty block when nothing was prepared";
}
