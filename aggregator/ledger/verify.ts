import type { ReplicatedStateMachine } from "../state/replicated.js";
import { checkBlock, checkCertificate, GENESIS_PREV, type LedgerEntry, linkHash } from "./block.js";
import { checkpointSigningBytes } from "./checkpoint-bytes.js";
import { LedgerError } from "./errors.js";
import type { Verifier } from "./signing.js";
import type { CheckpointRecord, LedgerMember } from "./store.js";

/** What verification reads: a block store (SQLite) or a ledger export (JSON lines) both provide it. */
export interface LedgerSource {
  iterate(): Iterable<LedgerEntry>;
  checkpoints(): CheckpointRecord[];
}

export interface VerifyOptions {
  /** the members in consensus order (the order fixes each slot's leader) */
  members: readonly LedgerMember[];
  verifier: Verifier;
  /** fresh state machine to re-execute the ledger on; without it, re-execution is skipped */
  machine?: ReplicatedStateMachine;
  /** "pbft" (slots r·n + i, quorum 2f+1) or "pow" (one block per height, every member's reply) */
  mode?: "pbft" | "pow";
  /** report progress every this many blocks */
  onProgress?: (seq: number) => void;
}

export interface VerifyReport {
  blocks: number;
  transactions: number;
  rejectedTransactions: number;
  /** checkpoints whose signatures, link and (when re-executed) state hash were compared */
  checkpointsChecked: number;
  /** checkpoints past the last stored block: signatures checked, link and state not comparable */
  checkpointsAhead: number;
  lastLink: string;
  stateHash: string | undefined;
}

/** The member that leads slot lane `index` in `view`: member (index + view) mod n (docs/CONSENSUS.md). */
export function slotLeader(members: readonly { id: string }[], index: number, view: number): string {
  return members[(index + view) % members.length].id;
}

/**
 * Re-checks a whole ledger on its own: positions without gaps, every Merkle root, every proposer
 * signature, the leader rule of each slot and view (PBFT mode), every quorum certificate (2f+1 distinct
 * members' commit signatures), the hash chain, and every stored checkpoint (2f+1 signatures and the link
 * at its position). Given a state machine, it re-executes all transactions and compares the state hash
 * with every checkpoint. Throws LedgerError at the first fault.
 */
export function verifyLedger(source: LedgerSource, o: VerifyOptions): VerifyReport {
  const ids = new Set(o.members.map((m) => m.id));
  const n = o.members.length;
  if (n === 0) throw new LedgerError("UNKNOWN_SIGNER", "no consortium members to check the ledger against");
  const pow = o.mode === "pow";
  const quorum = pow ? n : 2 * Math.floor((n - 1) / 3) + 1;
  // Rounds hold n slots in PBFT mode and one block in proof-of-work mode.
  const perRound = pow ? 1 : n;
  const checkpoints = new Map<number, CheckpointRecord>();
  for (const c of source.checkpoints()) {
    if (!Number.isSafeInteger(c.round) || c.round < 1 || checkpoints.has(c.round))
      throw new LedgerError("BAD_CERTIFICATE", `checkpoint with round ${String(c.round)} is malformed`);
    checkCheckpoint(c, ids, quorum, o.verifier);
    checkpoints.set(c.round, c);
  }
  let prev = GENESIS_PREV;
  let expected = 0;
  let transactions = 0;
  let rejected = 0;
  let checkpointsChecked = 0;
  for (const e of source.iterate()) {
    if (e.seq !== expected)
      throw new LedgerError("GAP", `block ${expected} is missing (next stored is ${e.seq})`);
    const hash = checkBlock(e.block, o.verifier);
    const h = e.block.header;
    if (h.index >= perRound || h.round * perRound + h.index !== e.seq) {
      throw new LedgerError("MALFORMED_BLOCK", `block ${e.seq} names slot (${h.round}, ${h.index})`);
    }
    // In proof-of-work mode the work elects the proposer; in PBFT mode the slot and view fix it.
    if (!pow) {
      const leader = slotLeader(o.members, h.index, h.view);
      if (h.proposer !== leader)
        throw new LedgerError(
          "WRONG_LEADER",
          `block ${e.seq} (round ${h.round}, lane ${h.index}, view ${h.view}) is proposed by ${h.proposer}, but its leader is ${leader}`,
          { seq: e.seq },
        );
    }
    checkCertificate(h, hash, e.qc, ids, quorum, o.verifier);
    if (e.prev !== prev)
      throw new LedgerError("BAD_CHAIN", `block ${e.seq} does not chain to block ${e.seq - 1}`);
    const link = linkHash(e.seq, prev, hash);
    if (e.link !== link) throw new LedgerError("BAD_CHAIN", `block ${e.seq} has a wrong link hash`);
    prev = link;
    transactions += e.block.txs.length;
    if (o.machine !== undefined) {
      const ctx = { time: h.time, height: e.seq, proposer: h.proposer };
      for (const tx of e.block.txs) if (!o.machine.apply(tx, ctx).ok) rejected++;
    }
    expected++;
    if (expected % perRound === 0) {
      const c = checkpoints.get(expected / perRound);
      if (c !== undefined) {
        if (c.link !== link) throw new LedgerError("BAD_CHAIN", `checkpoint ${c.round} names another chain`);
        if (o.machine !== undefined && o.machine.stateHash() !== c.stateHash) {
          throw new LedgerError("STATE_MISMATCH", `re-execution differs from checkpoint ${c.round}`, {
            round: c.round,
          });
        }
        checkpointsChecked++;
      }
    }
    o.onProgress?.(e.seq);
  }
  return {
    blocks: expected,
    transactions,
    rejectedTransactions: rejected,
    checkpointsChecked,
    checkpointsAhead: checkpoints.size - checkpointsChecked,
    lastLink: prev,
    stateHash: o.machine?.stateHash(),
  };
}

function checkCheckpoint(
  c: CheckpointRecord,
  ids: ReadonlySet<string>,
  quorum: number,
  verifier: Verifier,
): void {
  if (typeof c.stateHash !== "string" || typeof c.link !== "string" || !Array.isArray(c.sigs))
    throw new LedgerError("BAD_CERTIFICATE", `checkpoint ${c.round} has the wrong shape`);
  const bytes = checkpointSigningBytes(c.round, c.stateHash, c.link);
  const seen = new Set<string>();
  for (const s of c.sigs) {
    if (!ids.has(s?.from) || seen.has(s.from) || !verifier.verify(s.from, bytes, s.sig)) {
      throw new LedgerError("BAD_CERTIFICATE", `checkpoint ${c.round}: bad signature from ${s?.from}`);
    }
    seen.add(s.from);
  }
  if (seen.size < quorum) throw new LedgerError("BAD_CERTIFICATE", `checkpoint ${c.round} below quorum`);
}
