import { errorFamily, type FamilyError } from "../../protocol/errors.js";

export type AggregatorRuntimeErrorCode = "NOT_AN_AGGREGATOR" | "BROKER_UNREACHABLE";
export const { Error: AggregatorRuntimeError } =
  errorFamily<AggregatorRuntimeErrorCode>("AggregatorRuntimeError");
export type AggregatorRuntimeError = FamilyError<AggregatorRuntimeErrorCode>;
