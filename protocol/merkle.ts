import { utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { sha256 } from "./hash.js";

/*
 * Merkle tree over a block's transactions, with domain separation so that a leaf can never be passed off
 * as an inner node (the second-preimage trick against naive trees):
 *   leaf  = SHA-256(0x00 || canonical JSON of the transaction, UTF-8)
 *   node  = SHA-256(0x01 || left || right)
 *   empty = SHA-256(0x02)
 * An odd node at the end of a level is carried up unchanged rather than paired with itself, which keeps
 * two different transaction lists from sharing a root (Bitcoin's CVE-2012-2459 duplicated the last node).
 */
const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);
const EMPTY = new Uint8Array([2]);

export const EMPTY_MERKLE_ROOT = Buffer.from(sha256(EMPTY)).toString("hex");

export function leafHash(tx: unknown): Uint8Array {
  return sha256(Buffer.concat([LEAF, utf8(canonicalJson(tx))]));
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Buffer.concat([NODE, left, right]));
}

/** Hex Merkle root of a transaction list. */
export function merkleRoot(txs: readonly unknown[]): string {
  if (txs.length === 0) return EMPTY_MERKLE_ROOT;
  let level = txs.map(leafHash);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
    }
    level = next;
  }
  return Buffer.from(level[0]).toString("hex");
}

/** One step of an inclusion proof: the sibling hash and whether it sits on the left. */
export interface ProofStep {
  sibling: string;
  left: boolean;
}

/** Inclusion proof of transaction `index`: the siblings from leaf to root (carried-up levels add none). */
export function merkleProof(txs: readonly unknown[], index: number): ProofStep[] {
  if (!Number.isInteger(index) || index < 0 || index >= txs.length) {
    throw new RangeError(`no transaction ${index} in a block of ${txs.length}`);
  }
  const steps: ProofStep[] = [];
  let level = txs.map(leafHash);
  let i = index;
  while (level.length > 1) {
    const sib = i ^ 1;
    if (sib < level.length) steps.push({ sibling: Buffer.from(level[sib]).toString("hex"), left: sib < i });
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) {
      next.push(j + 1 < level.length ? nodeHash(level[j], level[j + 1]) : level[j]);
    }
    level = next;
    i = Math.floor(i / 2);
  }
  return steps;
}

export function verifyMerkleProof(tx: unknown, proof: readonly ProofStep[], root: string): boolean {
  let h = leafHash(tx);
  for (const s of proof) {
    const sib = Buffer.from(s.sibling, "hex");
    h = s.left ? nodeHash(sib, h) : nodeHash(h, sib);
  }
  return Buffer.from(h).toString("hex") === root;
}
