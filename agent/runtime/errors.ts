import { errorFamily, type FamilyError } from "../../protocol/errors.js";

export type AgentRuntimeErrorCode = "IDENTITY_MISMATCH" | "NO_METERS" | "METER_CONFIG";
export const { Error: AgentRuntimeError } = errorFamily<AgentRuntimeErrorCode>("AgentRuntimeError");
export type AgentRuntimeError = FamilyError<AgentRuntimeErrorCode>;
