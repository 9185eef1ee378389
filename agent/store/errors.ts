import { GridletError } from "../../protocol/errors.js";

export type StoreErrorCode = "STORE_OPEN_FAILED" | "STORE_SCHEMA" | "STORE_IDENTITY_MISMATCH";
export class StoreError extends GridletError<StoreErrorCode> {}
