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

/** Turns anything thrown into a readable one-line message. */
export function describeError(e: unknown): string {
  if (e instanceof GridletError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
