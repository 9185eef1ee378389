import { GridletError } from "../../protocol/errors.js";

export type AgentRuntimeErrorCode = "IDENTITY_MISMATCH" | "NO_METERS" | "METER_CONFIG";
export class AgentRuntimeError extends GridletError<AgentRuntimeErrorCode> {}
