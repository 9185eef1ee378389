import { signingBytes } from "../../../protocol/canonical.js";
import { sha256Hex } from "../../../protocol/hash.js";
import type { Block } from "../../ledger/block.js";

export const POW_DOMAIN = "gridlet/pow/v1";
export const AUDIT_DOMAIN = "gridlet/pow-audit/v1";

/*
 * Seed 000's consensus (Li et al., TII 2018): the aggregator that first finds a nonce with
 * Hash(nonce + history) below the target leads the block; every aggregator audits it and broadcasts a
 * signed audit; each compares all audits and answers; the block commits only when all agree.
 * "history" here is the previous ledger link, the height, the attempt, the miner and the block's Merkle
 * root, so that a found nonce binds the miner to this block and no other.
 */
export function powHash(
  prev: string,
  height: number,
  attempt: number,
  miner: string,
  txRoot: string,
  nonce: number,
): string {
  return sha256Hex(`${POW_DOMAIN}\n${prev}:${height}:${attempt}:${miner}:${txRoot}:${nonce}`);
}

/** True when the hash has at least `bits` leading zero bits. */
export function meetsTarget(hashHex: string, bits: number): boolean {
  let i = 0;
  let left = bits;
  while (left >= 4) {
    if (hashHex[i++] !== "0") return false;
    left -= 4;
  }
  return left === 0 || Number.parseInt(hashHex[i], 16) < 16 >> left;
}

export interface PowProposal {
  t: "pow-prop";
  from: string;
  height: number;
  attempt: number;
  prev: string;
  nonce: number;
  block: Block;
  re?: boolean;
}

export interface PowAudit {
  t: "pow-audit";
  from: string;
  height: number;
  attempt: number;
  hash: string;
  ok: boolean;
  sig: string;
  re?: boolean;
}

/** The answer after comparing all audits; it signs the same bytes as a PBFT commit vote (view = attempt). */
export interface PowReply {
  t: "pow-reply";
  from: string;
  height: number;
  attempt: number;
  hash: string;
  sig: string;
  re?: boolean;
}

/**
 * Sent on moving to a new attempt: the sender's replies at this height so far, signed. It is the proof
 * that lets a member locked on a block at an earlier attempt let go: if someone moved past that attempt
 * without replying to the block, the block can never gather every reply.
 */
export interface PowNext {
  t: "pow-next";
  from: string;
  height: number;
  attempt: number;
  replies: [number, string][];
  sig: string;
  re?: boolean;
}

export type PowMessage = PowProposal | PowAudit | PowReply | PowNext;

export const NEXT_DOMAIN = "gridlet/pow-next/v1";

export function nextBytes(height: number, attempt: number, replies: [number, string][]): Uint8Array {
  return signingBytes(NEXT_DOMAIN, { height, attempt, replies });
}

export function auditBytes(height: number, attempt: number, hash: string, ok: boolean): Uint8Array {
  return signingBytes(AUDIT_DOMAIN, { height, attempt, block: hash, ok });
}

/** The leader's reward, the first transaction of every block in this mode. */
export interface RewardTx {
  kind: "reward";
  id: string;
  to: string;
  /** integer minor units (milli-coins) */
  amount: number;
}

export function rewardTx(height: number, to: string, amount: number): RewardTx {
  return { kind: "reward", id: `reward/${height}`, to, amount };
}
