import { errorFamily, type FamilyError } from "../../protocol/errors.js";

export type StoreErrorCode = "STORE_OPEN_FAILED" | "STORE_SCHEMA" | "STORE_IDENTITY_MISMATCH";
export const { Error: StoreError } = errorFamily<StoreErrorCode>("StoreError");
export type StoreError = FamilyError<StoreErrorCode>;
