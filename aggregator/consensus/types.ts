import type { Block, LedgerEntry, QuorumCertificate } from "../ledger/block.js";
import type { Signer, Verifier } from "../ledger/signing.js";
import type { CheckpointRecord } from "../ledger/store.js";
import type { ApplyResult, ReplicatedStateMachine } from "../state/replicated.js";
import { ConsensusError } from "./errors.js";
import type { Message, PreparedCert } from "./messages.js";

export interface ReplicaConfig {
  /** member ids in consortium order: member i leads the slots (r, i) */
  members: readonly string[];
  self: string;
  /** rounds in flight at once beyond the last fully executed round */
  window: number;
  /** a checkpoint every K rounds */
  checkpointInterval: number;
  maxBatch: number;
  batchDelayMs: number;
  /** first timeout of a slot; doubles per view change of that slot */
  slotTimeoutMs: number;
  /** a passed-over leader gets its own slot back in rounds divisible by this, to rejoin */
  probeInterval: number;
  /** decided blocks per fetch answer */
  fetchLimit: number;
  /** longest wait of a vote for the rest of its batch (a batch goes out at once when its round is complete) */
  voteBatchMs: number;
}

export const DEFAULT_CONFIG: Omit<ReplicaConfig, "members" | "self"> = {
  window: 4,
  checkpointInterval: 8,
  maxBatch: 256,
  batchDelayMs: 5,
  slotTimeoutMs: 500,
  probeInterval: 16,
  fetchLimit: 64,
  voteBatchMs: 50,
};

export interface ReplicaDeps {
  signer: Signer;
  verifier: Verifier;
  machine: ReplicatedStateMachine;
  /** checks a client transaction inside a proposal (e.g. its envelope signature); defaults to accept */
  validateTx?: (tx: unknown) => boolean;
}

/**
 * What a replica must still know after a restart so that it never signs two different things for one
 * slot and view: each vote is handed to the shell to persist before it is sent, and handed back at start.
 */
export interface VoteRecord {
  seq: number;
  kind: "prepare" | "commit" | "vc";
  view: number;
  /** the block voted for; null for a view change */
  hash: string | null;
  /** with a commit or a view change: the prepared certificate the replica held */
  prepared?: PreparedCert | null;
}

export type Input =
  | { type: "message"; msg: Message }
  | { type: "submit"; tx: unknown }
  | { type: "timer"; key: string }
  /** the replica came back from a crash: re-arm timers and catch up */
  | { type: "restart" }
  /** the votes persisted before the crash (VoteRecord), given back before "restart" */
  | { type: "restore"; votes: VoteRecord[] };

export type Output =
  /** `to` is a member id or "*" for every other member */
  | { type: "send"; to: string; msg: Message }
  /** deliver { type: "timer", key } after delayMs; re-arming a key replaces its earlier deadline */
  | { type: "timer"; key: string; delayMs: number }
  /** `adopted`: decided from a peer's certificate (catch-up), not from this member's own quorum of votes */
  | { type: "commit"; entry: LedgerEntry; hash: string; results: ApplyResult[]; adopted?: true }
  | { type: "checkpoint"; record: CheckpointRecord }
  /** persist before sending what follows it in the same output list */
  /** `orphan`: a view change of a slot whose leader proposed to no one (ReplicaCore.orphan), for counters */
  | { type: "vote"; record: VoteRecord; orphan?: true }
  /** answer a peer's fetch from the block store: send it { t: "blocks", entries } */
  | { type: "serve"; to: string; fromSeq: number; limit: number }
  | { type: "rejected"; from: string; reason: string }
  | { type: "fault"; kind: "equivocation" | "divergence"; member: string; detail: string };

export interface Decision {
  hash: string;
  block: Block;
  qc: QuorumCertificate;
}

export function faultTolerance(n: number): { f: number; quorum: number } {
  const f = Math.floor((n - 1) / 3);
  return { f, quorum: 2 * f + 1 };
}

export function checkConfig(c: ReplicaConfig): void {
  const bad = (what: string) => {
    throw new ConsensusError("BAD_CONFIG", what);
  };
  if (c.members.length === 0) bad("members: empty");
  if (new Set(c.members).size !== c.members.length) bad("members: duplicate id");
  if (!c.members.includes(c.self)) bad(`self: ${c.self} is not a member`);
  for (const k of ["window", "checkpointInterval", "maxBatch", "probeInterval", "fetchLimit"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) bad(`${k}: must be a positive integer`);
  }
  for (const k of ["batchDelayMs", "slotTimeoutMs", "voteBatchMs"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 0) bad(`${k}: must be a non-negative integer`);
  }
  if (c.slotTimeoutMs < 1) bad("slotTimeoutMs: must be at least 1");
}
