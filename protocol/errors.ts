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

/**
 * Context types per code of a family, as lodestar's `LodestarError<{code, ...}>`: a code listed here
 * must be thrown with a context of its type, and the family's guard narrowed to that code reads it typed
 * (`isXError(e, "CODE") && e.context.field`). Codes not listed take any record. List only the codes
 * whose context callers read.
 */
export type ErrorContexts<C extends string> = { [K in C]?: object };

type ContextOf<X, K extends string> = K extends keyof X ? X[K] : Record<string, unknown>;
type ContextArgs<X, K extends string> = K extends keyof X
  ? [context: X[K]]
  : [context?: Record<string, unknown>];

/** An error of a family with one of the codes `C`; for a single code its context has that code's type. */
export type FamilyError<
  C extends string,
  X extends ErrorContexts<C> = Record<never, never>,
> = GridletError<C> & {
  readonly context: ContextOf<X, C>;
};

export interface ErrorFamily<C extends string, X extends ErrorContexts<C>> {
  /** the class: `throw new XError(code, message, context)`, `e instanceof XError` */
  Error: {
    new <K extends C>(code: K, message: string, ...context: ContextArgs<X, K>): FamilyError<K, X>;
    readonly prototype: GridletError<C>;
  };
  /** true for an error of the family; a `code` narrows to that code and its context type */
  is<K extends C = C>(e: unknown, code?: K): e is FamilyError<K, X>;
}

/**
 * One error family per domain: a class with its own codes and a type guard that narrows by code, made by
 * one factory instead of a hand-written copy per domain. Use as
 * `export const { Error: XError, is: isXError } = errorFamily<XCode>("XError");
 * export type XError = FamilyError<XCode>;` (with a second type argument for per-code contexts).
 */
export function errorFamily<C extends string, X extends ErrorContexts<C> = Record<never, never>>(
  name: string,
): ErrorFamily<C, X> {
  class Family extends GridletError<C> {}
  Object.defineProperty(Family, "name", { value: name });
  const is = (e: unknown, code?: C): boolean =>
    e instanceof Family && (code === undefined || e.code === code);
  // The class is the constructor the interface describes; only its per-code context types are static.
  return { Error: Family as unknown as ErrorFamily<C, X>["Error"], is: is as ErrorFamily<C, X>["is"] };
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
export const { Error: ProtocolError, is: isProtocolError } = errorFamily<ProtocolErrorCode>("ProtocolError");
export type ProtocolError = FamilyError<ProtocolErrorCode>;

/** Loading an identity, its keys and TLS files from disk. */
export type LoadErrorCode = "TLS_FILE" | "IDENTITY_FILE" | "IDENTITY_MISMATCH";
export const { Error: LoadError, is: isLoadError } = errorFamily<LoadErrorCode>("LoadError");
export type LoadError = FamilyError<LoadErrorCode>;

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
export type CreditTokenError = FamilyError<CreditTokenErrorCode>;

/** Turns anything thrown into a readable one-line message. */
export function describeError(e: unknown): string {
  if (e instanceof GridletError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
