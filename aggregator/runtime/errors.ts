import { GridletError } from "../../protocol/errors.js";

export type AggregatorRuntimeErrorCode = "NOT_AN_AGGREGATOR" | "BROKER_UNREACHABLE";
export class AggregatorRuntimeError extends GridletError<AggregatorRuntimeErrorCode> {}
