import { fromHex, toHex } from "./bytes.js";
import { signingBytes } from "./canonical.js";
import { defaultEd25519, type Ed25519 } from "./crypto/index.js";
import { isProtocolError, ProtocolError } from "./errors.js";
import { ENVELOPE_JSON, parseStrictJson } from "./strict-json.js";

/** Domain-separation prefix of envelope signatures; see docs/PROTOCOL.md. */
export const ENVELOPE_DOMAIN = "gridlet/envelope/v1";
export const ENVELOPE_VERSION = 1;

/** Every message on the wire: signed by its sender over the canonical bytes of all fields but `sig`. */
export interface Envelope<B = unknown> {
  v: 1;
  type: string;
  /** sender id as in its certificate */
  from: string;
  /** per-sender sequence number, strictly increasing across all of the sender's messages */
  seq: number;
  /** signing time, milliseconds since the Unix epoch */
  ts: number;
  body: B;
  /** ed25519 signature, 128 lower-case hex digits */
  sig: string;
}

export type UnsignedEnvelope<B = unknown> = Omit<Envelope<B>, "sig">;

export function envelopeSigningBytes(e: UnsignedEnvelope): Uint8Array {
  return signingBytes(ENVELOPE_DOMAIN, {
    v: e.v,
    type: e.type,
    from: e.from,
    seq: e.seq,
    ts: e.ts,
    body: e.body,
  });
}

export function signEnvelope<B>(
  fields: Omit<UnsignedEnvelope<B>, "v">,
  seed: Uint8Array,
  crypto: Ed25519 = defaultEd25519,
): Envelope<B> {
  const unsigned: UnsignedEnvelope<B> = { v: ENVELOPE_VERSION, ...fields };
  const sig = toHex(crypto.sign(envelopeSigningBytes(unsigned), seed));
  return { ...unsigned, sig };
}

/** True when `e.sig` is `publicKey`'s ed25519 signature over the envelope's signing bytes. */
export function envelopeSignatureHolds(
  e: Envelope,
  publicKey: Uint8Array,
  crypto: Ed25519 = defaultEd25519,
): boolean {
  const sig = fromHex(e.sig);
  return sig !== undefined && crypto.verify(sig, envelopeSigningBytes(e), publicKey);
}

export function encodeEnvelope(e: Envelope): Buffer {
  return Buffer.from(JSON.stringify(e));
}

const MAX_ENVELOPE_BYTES = 256 * 1024;
const SEQ_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Parses wire bytes into an envelope with the right shape, or throws ProtocolError MALFORMED. The JSON
 * must be strict (protocol/strict-json.ts: UTF-8, no duplicate keys, no -0, integers only, nesting ≤ 16).
 * It checks nothing cryptographic: see EnvelopeVerifier.
 */
export function decodeEnvelope(data: Uint8Array | string): Envelope {
  const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
  if (size > MAX_ENVELOPE_BYTES)
    throw new ProtocolError("MALFORMED", `envelope of ${size} bytes is too large`);
  let value: unknown;
  try {
    value = parseStrictJson(data, ENVELOPE_JSON);
  } catch (e) {
    throw new ProtocolError("MALFORMED", `envelope is not strict JSON: ${(e as Error).message}`, {
      ...(isProtocolError(e) ? e.context : {}),
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("MALFORMED", "envelope is not a JSON object");
  }
  const o = value as Record<string, unknown>;
  const bad = (field: string, expected: string): never => {
    throw new ProtocolError("MALFORMED", `envelope field "${field}" must be ${expected}`, { field });
  };
  if (o.v !== ENVELOPE_VERSION) bad("v", `${ENVELOPE_VERSION}`);
  if (typeof o.type !== "string" || o.type.length === 0 || o.type.length > 64) bad("type", "a short string");
  if (typeof o.from !== "string" || o.from.length === 0 || o.from.length > 128) bad("from", "a short string");
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0 || (o.seq as number) > SEQ_MAX) {
    bad("seq", "a non-negative integer");
  }
  if (!Number.isSafeInteger(o.ts) || (o.ts as number) < 0) bad("ts", "a non-negative integer (ms)");
  if (!("body" in o) || o.body === undefined) bad("body", "present");
  if (typeof o.sig !== "string" || !/^[0-9a-f]{128}$/.test(o.sig)) bad("sig", "128 lower-case hex digits");
  const extra = Object.keys(o).filter((k) => !["v", "type", "from", "seq", "ts", "body", "sig"].includes(k));
  if (extra.length > 0) bad(extra[0], "absent (unknown field)");
  return o as unknown as Envelope;
}

const SEQ_FIELD = /"seq"\s*:\s*(\d{1,16})\s*[,}]/g;

/**
 * The sequence number of an envelope that failed to decode, found by a shallow scan of its bytes, so
 * that the sender can be told to drop it: the `"seq": N` member when exactly one is found, else undefined.
 */
export function scanEnvelopeSeq(data: Uint8Array | string): number | undefined {
  const text = typeof data === "string" ? data : Buffer.from(data).toString("latin1");
  const found = [...text.slice(0, MAX_ENVELOPE_BYTES).matchAll(SEQ_FIELD)];
  if (found.length !== 1) return undefined;
  const seq = Number(found[0][1]);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** What a verifier needs to know about a sender. */
export interface SenderKey {
  publicKey: Uint8Array;
  revoked: boolean;
}

export interface SenderDirectory {
  lookup(id: string): SenderKey | undefined;
}

/** Last accepted sequence number per sender; persistent implementations keep it across restarts. */
export interface SequenceStore {
  last(sender: string): number | undefined;
  advance(sender: string, seq: number): void;
}

export class MemorySequenceStore implements SequenceStore {
  private readonly seen = new Map<string, number>();
  last(sender: string): number | undefined {
    return this.seen.get(sender);
  }
  advance(sender: string, seq: number): void {
    this.seen.set(sender, seq);
  }
}

export interface FreshnessPolicy {
  /** how old a message of this type may be; readings buffered through a long outage need days */
  maxAgeMs(type: string): number;
  /** tolerated clock skew into the future */
  maxFutureMs: number;
}

export const DEFAULT_FRESHNESS: FreshnessPolicy = {
  maxAgeMs: () => 5 * 60_000,
  maxFutureMs: 30_000,
};

export interface VerifierOptions {
  directory: SenderDirectory;
  sequences?: SequenceStore;
  freshness?: FreshnessPolicy;
  crypto?: Ed25519;
  /**
   * Checks the signature instead of `crypto.verify` over the signing bytes: the aggregator passes its
   * signature cache, so that the ledger's own check of the same envelope later is a lookup.
   */
  checkSignature?: (e: Envelope, publicKey: Uint8Array) => boolean;
  /** current time in ms; injected so that verification is testable and deterministic */
  now: () => number;
}

/**
 * Checks, in this order: known sender, not revoked, signature, timestamp window, sequence above the last
 * accepted. The replay check comes after the signature so that a forged message cannot advance a
 * sender's sequence. `verify` records the sequence; `check` leaves it alone (for callers that first
 * need to commit the message durably, then call `accept`).
 */
export class EnvelopeVerifier {
  private readonly directory: SenderDirectory;
  private readonly sequences: SequenceStore;
  private readonly freshness: FreshnessPolicy;
  private readonly crypto: Ed25519;
  private readonly checkSignature: ((e: Envelope, publicKey: Uint8Array) => boolean) | undefined;
  private readonly now: () => number;

  constructor(opts: VerifierOptions) {
    this.checkSignature = opts.checkSignature;
    this.directory = opts.directory;
    this.sequences = opts.sequences ?? new MemorySequenceStore();
    this.freshness = opts.freshness ?? DEFAULT_FRESHNESS;
    this.crypto = opts.crypto ?? defaultEd25519;
    this.now = opts.now;
  }

  /** Decodes and checks; on success records the sequence number. */
  verify(data: Uint8Array | string | Envelope): Envelope {
    const e = this.check(data);
    this.accept(e);
    return e;
  }

  private signatureHolds(e: Envelope, publicKey: Uint8Array): boolean {
    if (this.checkSignature !== undefined) return this.checkSignature(e, publicKey);
    return envelopeSignatureHolds(e, publicKey, this.crypto);
  }

  check(data: Uint8Array | string | Envelope): Envelope {
    const e = typeof data === "object" && !(data instanceof Uint8Array) ? data : decodeEnvelope(data);
    const sender = this.directory.lookup(e.from);
    if (sender === undefined) {
      throw new ProtocolError("UNKNOWN_SENDER", `unknown sender "${e.from}"`, { from: e.from, type: e.type });
    }
    if (sender.revoked) {
      throw new ProtocolError("REVOKED_SENDER", `sender "${e.from}" is revoked`, {
        from: e.from,
        type: e.type,
      });
    }
    if (!this.signatureHolds(e, sender.publicKey)) {
      throw new ProtocolError("BAD_SIGNATURE", `bad signature on ${e.type} from "${e.from}"`, {
        from: e.from,
        type: e.type,
        seq: e.seq,
      });
    }
    const now = this.now();
    if (e.ts > now + this.freshness.maxFutureMs) {
      throw new ProtocolError(
        "FUTURE",
        `${e.type} from "${e.from}" is dated ${e.ts - now} ms in the future`,
        {
          from: e.from,
          ts: e.ts,
          now,
        },
      );
    }
    if (e.ts < now - this.freshness.maxAgeMs(e.type)) {
      throw new ProtocolError("STALE", `${e.type} from "${e.from}" is ${now - e.ts} ms old`, {
        from: e.from,
        ts: e.ts,
        now,
      });
    }
    const last = this.sequences.last(e.from);
    if (last !== undefined && e.seq <= last) {
      throw new ProtocolError("REPLAY", `${e.type} from "${e.from}" has seq ${e.seq}, not above ${last}`, {
        from: e.from,
        seq: e.seq,
        last,
      });
    }
    return e;
  }

  accept(e: Envelope): void {
    this.sequences.advance(e.from, e.seq);
  }
}
