import { signingBytes } from "../../protocol/canonical.js";
import { sha256Hex } from "../../protocol/hash.js";
import { LedgerError } from "./errors.js";
import { merkleRoot } from "./merkle.js";
import type { Signer, Verifier } from "./signing.js";
import { type BatchProof, checkCertVote } from "./vote-batch.js";

/** Domain prefixes of everything the ledger signs or hashes; see docs/PROTOCOL-BLOCKS.md. */
export const BLOCK_DOMAIN = "gridlet/block/v1";
export const VOTE_DOMAIN = "gridlet/vote/v1";
export const LINK_DOMAIN = "gridlet/ledger/v1";
export const GENESIS_PREV = "0".repeat(64);

/**
 * What a slot leader signs. The header names its slot (round, index) and the view it was proposed in; it
 * does not name the previous block, because the leaders of one round propose concurrently and none knows
 * the others' blocks yet. The hash chain is laid over the decided blocks in global order (LedgerEntry).
 */
export interface BlockHeader {
  v: 1;
  round: number;
  index: number;
  view: number;
  proposer: string;
  /** proposer's clock, ms since epoch: the only time the state machine sees */
  time: number;
  txRoot: string;
  txCount: number;
}

export interface Block {
  header: BlockHeader;
  txs: unknown[];
  /** proposer's signature over signingBytes(BLOCK_DOMAIN, header) */
  sig: string;
}

/**
 * One member's vote in a certificate: `sig` over the vote's own bytes, or, with `batch`, over the root of
 * the vote batch it was signed in (vote-batch.ts), the proof leading from the vote to that root.
 */
export interface VoteSig {
  from: string;
  sig: string;
  batch?: BatchProof;
}

/** 2f+1 commit votes for one block in one view: the proof that the slot is decided. */
export interface QuorumCertificate {
  view: number;
  votes: VoteSig[];
}

/** A decided block in its global position, chained to the one before. */
export interface LedgerEntry {
  seq: number;
  prev: string;
  link: string;
  block: Block;
  qc: QuorumCertificate;
}

export type VoteKind = "prepare" | "commit";

const HEX64 = /^[0-9a-f]{64}$/;
const safe = (x: unknown): boolean => Number.isSafeInteger(x);

/*
 * Hot paths: every vote and header is hashed or signed many times per slot, and the general RFC 8785
 * encoder dominated the simulator's profile. For the fixed shapes below the canonical text is written out
 * directly (keys in JCS order, strings through JSON.stringify, which JCS adopts); anything outside the
 * shape falls back to the general encoder. block.test.ts checks both paths give the same bytes.
 */
export function headerBytes(h: BlockHeader): Uint8Array {
  if (
    h.v === 1 &&
    safe(h.round) &&
    safe(h.index) &&
    safe(h.view) &&
    safe(h.time) &&
    safe(h.txCount) &&
    typeof h.proposer === "string" &&
    typeof h.txRoot === "string" &&
    Object.keys(h).length === 8
  ) {
    return Buffer.from(
      `${BLOCK_DOMAIN}\n{"index":${h.index},"proposer":${JSON.stringify(h.proposer)},"round":${h.round},"time":${h.time},"txCount":${h.txCount},"txRoot":${JSON.stringify(h.txRoot)},"v":1,"view":${h.view}}`,
    );
  }
  return signingBytes(BLOCK_DOMAIN, h);
}

export function blockHash(h: BlockHeader): string {
  return sha256Hex(headerBytes(h));
}

export function voteBytes(
  kind: VoteKind,
  round: number,
  index: number,
  view: number,
  hash: string,
): Uint8Array {
  if (
    (kind === "prepare" || kind === "commit") &&
    safe(round) &&
    safe(index) &&
    safe(view) &&
    HEX64.test(hash)
  ) {
    return Buffer.from(
      `${VOTE_DOMAIN}\n{"block":"${hash}","index":${index},"kind":"${kind}","round":${round},"view":${view}}`,
    );
  }
  return signingBytes(VOTE_DOMAIN, { kind, round, index, view, block: hash });
}

/** The link of position `seq`: SHA-256 over signingBytes(LINK_DOMAIN, {seq, prev, block}), hex. */
export function linkHash(seq: number, prev: string, hash: string): string {
  // the usual shape written out (as headerBytes does); JCS orders the keys block, prev, seq
  if (safe(seq) && HEX64.test(prev) && HEX64.test(hash))
    return sha256Hex(`${LINK_DOMAIN}\n{"block":"${hash}","prev":"${prev}","seq":${seq}}`);
  return sha256Hex(signingBytes(LINK_DOMAIN, { seq, prev, block: hash }));
}

export function makeBlock(
  slot: { round: number; index: number; view: number },
  time: number,
  txs: unknown[],
  signer: Signer,
): Block {
  const header: BlockHeader = {
    v: 1,
    round: slot.round,
    index: slot.index,
    view: slot.view,
    proposer: signer.id,
    time,
    txRoot: merkleRoot(txs),
    txCount: txs.length,
  };
  return { header, txs, sig: signer.sign(headerBytes(header)) };
}

function isNat(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Checks shape, Merkle root and proposer signature; returns the block hash. */
export function checkBlock(b: Block, verifier: Verifier): string {
  const h = b?.header;
  if (
    typeof b !== "object" ||
    b === null ||
    typeof h !== "object" ||
    h === null ||
    h.v !== 1 ||
    !isNat(h.round) ||
    !isNat(h.index) ||
    !isNat(h.view) ||
    typeof h.proposer !== "string" ||
    !isNat(h.time) ||
    typeof h.txRoot !== "string" ||
    !isNat(h.txCount) ||
    !Array.isArray(b.txs) ||
    typeof b.sig !== "string" ||
    Object.keys(h).length !== 8
  ) {
    throw new LedgerError("MALFORMED_BLOCK", "block or header has the wrong shape");
  }
  if (b.txs.length !== h.txCount || merkleRoot(b.txs) !== h.txRoot) {
    throw new LedgerError("BAD_MERKLE_ROOT", `transactions do not match the header's Merkle root`, {
      round: h.round,
      index: h.index,
    });
  }
  if (!verifier.verify(h.proposer, headerBytes(h), b.sig)) {
    throw new LedgerError("BAD_PROPOSER_SIGNATURE", `bad proposer signature from ${h.proposer}`, {
      round: h.round,
      index: h.index,
    });
  }
  return blockHash(h);
}

/** Checks that a certificate holds `quorum` valid commit votes from distinct members for this block. */
export function checkCertificate(
  h: BlockHeader,
  hash: string,
  qc: QuorumCertificate,
  members: ReadonlySet<string>,
  quorum: number,
  verifier: Verifier,
): void {
  if (typeof qc !== "object" || qc === null || !isNat(qc.view) || !Array.isArray(qc.votes)) {
    throw new LedgerError("BAD_CERTIFICATE", "certificate has the wrong shape");
  }
  const seen = new Set<string>();
  for (const v of qc.votes) {
    if (typeof v?.from !== "string" || !members.has(v.from)) {
      throw new LedgerError("UNKNOWN_SIGNER", `certificate vote from non-member ${String(v?.from)}`);
    }
    if (seen.has(v.from)) throw new LedgerError("BAD_CERTIFICATE", `duplicate vote from ${v.from}`);
    if (!checkCertVote(v, "commit", h.round, h.index, qc.view, hash, verifier)) {
      throw new LedgerError("BAD_CERTIFICATE", `bad commit signature from ${v.from}`, {
        round: h.round,
        index: h.index,
      });
    }
    seen.add(v.from);
  }
  if (seen.size < quorum) {
    throw new LedgerError("BAD_CERTIFICATE", `certificate has ${seen.size} votes, needs ${quorum}`);
  }
}
