import { errorFamily, type FamilyError } from "../../protocol/errors.js";

/** Codes of consensus: configuration, membership and the consortium file. */
export type ConsensusErrorCode =
  | "BAD_CONFIG"
  | "NOT_A_MEMBER"
  | "CONSORTIUM_INVALID"
  | "CONSORTIUM_SIGNATURE"
  | "TRANSPORT";

export const { Error: ConsensusError, is: isConsensusError } =
  errorFamily<ConsensusErrorCode>("ConsensusError");
export type ConsensusError = FamilyError<ConsensusErrorCode>;
