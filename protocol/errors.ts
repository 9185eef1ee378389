/**
 * One error class per domain, each with a stable string code and structured context, so that callers
 * branch on `code` (never on message text) and logs and counters can name the reason.
 */
export class GridletError<C extends string = string> extends Error {
  readonly code: C;
  readonly context: Record<string, unknown>;

  constructor(code: C, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

export function isGridletError(e: unknown): e is GridletError {
  return e instanceof GridletError;
}

/** Codes of the wire protocol: envelope decoding and verification, certificates, keys. */
export type ProtocolErrorCode =
  | "MALFORMED"
  | "BAD_SIGNATURE"
  | "UNKNOWN_SENDER"
  | "REVOKED_SENDER"
  | "REPLAY"
  | "STALE"
  | "FUTURE"
  | "WRONG_TYPE"
  | "CERT_INVALID"
  | "CERT_EXPIRED"
  | "CERT_NOT_YET_VALID"
  | "KEY_FILE_PERMISSIONS"
  | "KEY_FILE_INVALID"
  | "DECRYPT_FAILED";

export class ProtocolError extends GridletError<ProtocolErrorCode> {}

export function isProtocolError(e: unknown, code?: ProtocolErrorCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}

/**
 * One error family per domain: a class with its own codes and a type guard that narrows by code, made by
 * one factory instead of a hand-written copy per domain. Use as
 * `export const { Error: XError, is: isXError } = errorFamily<XCode>("XError"); export type XError = …`.
 */
export function errorFamily<C extends string>(name: string) {
  class FamilyError extends GridletError<C> {}
  Object.defineProperty(FamilyError, "name", { value: name });
  const is = (e: unknown, code?: C): e is FamilyError =>
    e instanceof FamilyError && (code === undefined || e.code === code);
  return { Error: FamilyError, is };
}

/** Loading an identity, its keys and TLS files from disk. */
export type LoadErrorCode = "TLS_FILE" | "IDENTITY_MISMATCH";
export const { Error: LoadError, is: isLoadError } = errorFamily<LoadErrorCode>("LoadError");
export type LoadError = InstanceType<typeof LoadError>;

/** Checking a credit token or a payment made with it (shared by the bank and the borrowing agent). */
export type CreditTokenErrorCode =
  | "MALFORMED"
  | "BAD_TOKEN_SIGNATURE"
  | "BAD_PAYMENT_SIGNATURE"
  | "TOKEN_EXPIRED"
  | "WALLET_MISMATCH"
  | "OVERSPEND";
export const { Error: CreditTokenError, is: isCreditTokenError } =
  errorFamily<CreditTokenErrorCode>("CreditTokenError");
export type CreditTokenError = InstanceType<typeof CreditTokenError>;

/** Turns anything thrown into a readable one-line message. */
export function describeError(e: unknown): string {
  if (e instanceof GridletError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
