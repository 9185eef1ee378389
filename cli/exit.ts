import { errorFamily, type FamilyError, GridletError } from "../protocol/errors.js";

/** Exit codes of every gridlet command. */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** A usage or configuration problem: the command exits 2. */
export type UsageErrorCode = "USAGE" | "CONFIG";
export const { Error: UsageError } = errorFamily<UsageErrorCode>("UsageError");
export type UsageError = FamilyError<UsageErrorCode>;

/** For commands whose implementation belongs to later work: says so instead of pretending. */
export function notYetImplemented(what: string): never {
  throw new GridletError("NOT_IMPLEMENTED", `${what} is not implemented yet`);
}
