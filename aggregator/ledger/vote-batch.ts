import { canonicalJson, signingBytes } from "../../protocol/canonical.js";
import { sha256 } from "../../protocol/hash.js";
import type { VoteKind } from "./block.js";
import type { Verifier } from "./signing.js";

/*
 * Votes signed in batches (docs/PROTOCOL-BLOCKS.md, "Vote batches"): a member signs the Merkle root of a
 * list of votes once, instead of each vote, so that a round of n slots costs each receiver one signature
 * check per peer rather than one per peer and slot. The tree is the transactions' tree (merkle.ts) over
 * the votes' JCS texts; a vote taken out of its batch (into a quorum certificate or a prepared
 * certificate) carries its leaf position, the batch size and the sibling hashes up to the root, so that
 * anyone can recompute the root and check the one signature.
 */
export const VOTE_BATCH_DOMAIN = "gridlet/vote-batch/v1";
const VOTE_DOMAIN = "gridlet/vote/v1";

/** Where a batched vote sits in its batch, and the sibling hashes from its leaf up to the root. */
export interface BatchProof {
  /** leaf index */
  at: number;
  /** leaves in the batch */
  of: number;
  /** sibling hashes (hex), leaf to root; levels where the node is carried up have none */
  path: string[];
}

const safe = (x: unknown): boolean => Number.isSafeInteger(x);
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The JCS text of a vote (`{block, index, kind, round, view}`), the value its single-vote signing bytes
 * carry; written out directly for the usual shape (block.ts's voteBytes does the same), JCS otherwise.
 */
export function voteText(kind: VoteKind, round: number, index: number, view: number, hash: string): string {
  if (
    (kind === "prepare" || kind === "commit") &&
    safe(round) &&
    safe(index) &&
    safe(view) &&
    HEX64.test(hash)
  )
    return `{"block":"${hash}","index":${index},"kind":"${kind}","round":${round},"view":${view}}`;
  return canonicalJson({ kind, round, index, view, block: hash });
}

const NODE = new Uint8Array([1]);

/** An inner node, as in the transactions' tree (protocol/merkle.ts): SHA-256(0x01 || left || right). */
function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Buffer.concat([NODE, left, right]));
}

/**
 * A vote's leaf: SHA-256(0x00 || JCS text of {block, index, kind, round, view}). Hashed as one string
 * (NUL, then the text; UTF-8 gives the same bytes) rather than a concatenation of two buffers: every
 * receiver computes a leaf per vote of every batch, and this form took half the time (8.7 against 16 µs).
 */
export function voteLeaf(
  kind: VoteKind,
  round: number,
  index: number,
  view: number,
  hash: string,
): Uint8Array {
  return sha256(`\u0000${voteText(kind, round, index, view, hash)}`);
}

/** Every level of the tree over `leaves`, leaves first, the root alone last; an odd last node is carried up. */
export function batchLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) throw new RangeError("a vote batch holds at least one vote");
  const levels: Uint8Array[][] = [leaves.slice()];
  for (let level = levels[0]; level.length > 1; ) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
    levels.push(next);
    level = next;
  }
  return levels;
}

/** The root (hex) of a tree whose levels batchLevels built. */
export function levelsRoot(levels: readonly Uint8Array[][]): string {
  return Buffer.from(levels[levels.length - 1][0]).toString("hex");
}

export function batchRoot(leaves: readonly Uint8Array[]): string {
  return levelsRoot(batchLevels(leaves));
}

/** What a batch's signer signs: signingBytes("gridlet/vote-batch/v1", {root}). */
export function batchSigningBytes(root: string): Uint8Array {
  // every receiver computes these once per batch: the usual shape written out, JCS otherwise
  if (HEX64.test(root)) return Buffer.from(`${VOTE_BATCH_DOMAIN}\n{"root":"${root}"}`);
  return signingBytes(VOTE_BATCH_DOMAIN, { root });
}

export function batchProof(levels: readonly Uint8Array[][], at: number): BatchProof {
  const path: string[] = [];
  let i = at;
  for (const level of levels.slice(0, -1)) {
    const sib = i ^ 1;
    if (sib < level.length) path.push(Buffer.from(level[sib]).toString("hex"));
    i >>= 1;
  }
  return { at, of: levels[0].length, path };
}

/** The root a proof leads to from `leaf`, or undefined when the proof has the wrong shape. */
export function rootFromProof(leaf: Uint8Array, p: BatchProof): string | undefined {
  if (
    typeof p !== "object" ||
    p === null ||
    !Number.isSafeInteger(p.at) ||
    !Number.isSafeInteger(p.of) ||
    p.at < 0 ||
    p.at >= p.of ||
    !Array.isArray(p.path)
  )
    return undefined;
  let h = leaf;
  let i = p.at;
  let m = p.of;
  let k = 0;
  while (m > 1) {
    const sibling = i ^ 1;
    if (sibling < m) {
      const s = p.path[k++];
      if (typeof s !== "string" || !HEX64.test(s)) return undefined;
      const sib = Buffer.from(s, "hex");
      h = sibling < i ? nodeHash(sib, h) : nodeHash(h, sib);
    }
    i >>= 1;
    m = (m + 1) >> 1;
  }
  return k === p.path.length ? Buffer.from(h).toString("hex") : undefined;
}

/** A vote as a certificate holds it: signed alone (`sig` over its vote bytes) or in a batch (`batch`). */
export interface CertVote {
  from: string;
  sig: string;
  batch?: BatchProof;
}

/** Checks one vote of a certificate, in either form. */
export function checkCertVote(
  v: CertVote,
  kind: VoteKind,
  round: number,
  index: number,
  view: number,
  hash: string,
  verifier: Verifier,
): boolean {
  if (v.batch === undefined)
    return verifier.verify(
      v.from,
      Buffer.from(`${VOTE_DOMAIN}\n${voteText(kind, round, index, view, hash)}`),
      v.sig,
    );
  const root = rootFromProof(voteLeaf(kind, round, index, view, hash), v.batch);
  return root !== undefined && verifier.verify(v.from, batchSigningBytes(root), v.sig);
}
