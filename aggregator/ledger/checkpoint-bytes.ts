import { signingBytes } from "../../protocol/canonical.js";

export const CHECKPOINT_DOMAIN = "gridlet/checkpoint/v1";

/** What members sign at a checkpoint: rounds executed, the state hash, and the ledger link at that point. */
export function checkpointSigningBytes(round: number, stateHash: string, link: string): Uint8Array {
  return signingBytes(CHECKPOINT_DOMAIN, { round, stateHash, link });
}
