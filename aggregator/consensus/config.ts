import { z } from "#zod";
import type { Signer, Verifier } from "../ledger/signing.js";
import type { ReplicatedStateMachine } from "../state/replicated.js";
import { PowReplica } from "./pow/replica.js";
import { Replica } from "./replica.js";
import { DEFAULT_CONFIG, type Input, type Output } from "./types.js";

/**
 * The "consensus" section of the aggregator's configuration (the lead composes it into config/schema.ts):
 * which protocol runs, and its knobs. Members and keys come from the CA-signed consortium file, never from
 * here.
 */
export const consensusConfigSchema = z
  .object({
    /** "pbft": multi-leader PBFT (default); "pow": seed 000's proof-of-work leader and unanimous audits */
    mode: z.enum(["pbft", "pow"]).default("pbft"),
    consortium: z.string().min(1).describe("path of the CA-signed consortium file"),
    window: z.number().int().min(1).max(64).default(DEFAULT_CONFIG.window),
    checkpointInterval: z.number().int().min(1).max(10_000).default(DEFAULT_CONFIG.checkpointInterval),
    maxBatch: z.number().int().min(1).max(100_000).default(DEFAULT_CONFIG.maxBatch),
    batchDelayMs: z.number().int().min(0).max(10_000).default(DEFAULT_CONFIG.batchDelayMs),
    slotTimeoutMs: z.number().int().min(10).max(600_000).default(DEFAULT_CONFIG.slotTimeoutMs),
    probeInterval: z.number().int().min(1).max(100_000).default(DEFAULT_CONFIG.probeInterval),
    /** longest wait of a vote for the rest of its batch */
    voteBatchMs: z.number().int().min(0).max(10_000).default(DEFAULT_CONFIG.voteBatchMs),
    pow: z
      .object({
        difficultyBits: z.number().int().min(0).max(32).default(12),
        noncesPerStep: z.number().int().min(1).max(1_000_000).default(256),
        mineStepMs: z.number().int().min(0).max(10_000).default(1),
        attemptTimeoutMs: z.number().int().min(10).max(600_000).default(2000),
        /** leader's reward per block in milli-coins */
        reward: z.number().int().min(0).default(1000),
      })
      .strict()
      .default({
        difficultyBits: 12,
        noncesPerStep: 256,
        mineStepMs: 1,
        attemptTimeoutMs: 2000,
        reward: 1000,
      }),
  })
  .strict();

export type ConsensusConfig = z.infer<typeof consensusConfigSchema>;

/** What every consensus core looks like from its shell. */
export interface ConsensusCore {
  step(input: Input, now: number): Output[];
}

/** Builds the configured core for one member. */
export function createCore(
  c: ConsensusConfig,
  members: readonly string[],
  self: string,
  deps: {
    signer: Signer;
    verifier: Verifier;
    machine: ReplicatedStateMachine;
    validateTx?: (tx: unknown) => boolean;
  },
): ConsensusCore & { config: { self: string; members: readonly string[] } } {
  if (c.mode === "pow") {
    return new PowReplica(
      { ...c.pow, members, self, maxBatch: c.maxBatch, fetchLimit: DEFAULT_CONFIG.fetchLimit },
      deps,
    );
  }
  return new Replica(
    {
      members,
      self,
      window: c.window,
      checkpointInterval: c.checkpointInterval,
      maxBatch: c.maxBatch,
      batchDelayMs: c.batchDelayMs,
      slotTimeoutMs: c.slotTimeoutMs,
      probeInterval: c.probeInterval,
      fetchLimit: DEFAULT_CONFIG.fetchLimit,
      voteBatchMs: c.voteBatchMs,
    },
    deps,
  );
}
