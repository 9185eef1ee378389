import { GridletError } from "../../protocol/errors.js";

/** Codes of consensus: configuration, membership and the consortium file. */
export type ConsensusErrorCode =
  | "BAD_CONFIG"
  | "NOT_A_MEMBER"
  | "CONSORTIUM_INVALID"
  | "CONSORTIUM_SIGNATURE"
  | "TRANSPORT";

export class ConsensusError extends GridletError<ConsensusErrorCode> {}

export function isConsensusError(e: unknown, code?: ConsensusErrorCode): e is ConsensusError {
  return e instanceof ConsensusError && (code === undefined || e.code === code);
}
