import { randomBytes } from "node:crypto";
import { fromHex, toHex } from "./bytes.js";
import { signingBytes } from "./canonical.js";
import { newBoxKeyPair } from "./crypto/box.js";
import { defaultEd25519, type Ed25519 } from "./crypto/index.js";
import type { SenderDirectory, SenderKey } from "./envelope.js";
import { ProtocolError } from "./errors.js";

export const CERTIFICATE_DOMAIN = "gridlet/certificate/v1";
export const REVOCATIONS_DOMAIN = "gridlet/revocations/v1";

export type Role = "ca" | "agent" | "aggregator";

/**
 * An identity's certificate, signed by the CA (self-signed for the CA itself). Agents carry their home
 * aggregator and their wallet addresses (pseudonyms used in public records).
 */
export interface Certificate {
  v: 1;
  serial: string;
  id: string;
  role: Role;
  /** ed25519 public key, hex */
  publicKey: string;
  /** x25519 public key for NaCl box, hex */
  boxKey: string;
  /** validity, ms since epoch, inclusive */
  notBefore: number;
  notAfter: number;
  issuer: string;
  home?: string;
  wallets?: string[];
  sig: string;
}

export type UnsignedCertificate = Omit<Certificate, "sig">;

/** A secret key file: the ed25519 seed and the x25519 secret key of one identity. */
export interface KeyMaterial {
  id: string;
  seed: Uint8Array;
  boxSecret: Uint8Array;
}

export interface RevocationEntry {
  id: string;
  serial: string;
  /** ms since epoch */
  at: number;
  reason: string;
}

/** The CA's signed list of revoked certificates; `version` grows with every change. */
export interface RevocationList {
  v: 1;
  issuer: string;
  version: number;
  issuedAt: number;
  revoked: RevocationEntry[];
  sig: string;
}

export function certificateSigningBytes(c: UnsignedCertificate): Uint8Array {
  const { sig: _sig, ...fields } = c as Certificate;
  return signingBytes(CERTIFICATE_DOMAIN, fields);
}

export function revocationSigningBytes(r: Omit<RevocationList, "sig">): Uint8Array {
  const { sig: _sig, ...fields } = r as RevocationList;
  return signingBytes(REVOCATIONS_DOMAIN, fields);
}

export function newKeyMaterial(id: string, random: (n: number) => Uint8Array = randomBytes): KeyMaterial {
  return { id, seed: new Uint8Array(random(32)), boxSecret: newBoxKeyPair(random).secretKey };
}

export function newWalletAddress(random: (n: number) => Uint8Array = randomBytes): string {
  return `gw${toHex(new Uint8Array(random(16)))}`;
}

export function signCertificate(
  fields: Omit<UnsignedCertificate, "v">,
  issuerSeed: Uint8Array,
  crypto: Ed25519 = defaultEd25519,
): Certificate {
  const unsigned: UnsignedCertificate = { v: 1, ...fields };
  return { ...unsigned, sig: toHex(crypto.sign(certificateSigningBytes(unsigned), issuerSeed)) };
}

export function signRevocationList(
  fields: Omit<RevocationList, "v" | "sig">,
  caSeed: Uint8Array,
  crypto: Ed25519 = defaultEd25519,
): RevocationList {
  const unsigned = { v: 1 as const, ...fields };
  return { ...unsigned, sig: toHex(crypto.sign(revocationSigningBytes(unsigned), caSeed)) };
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertValidId(id: string): void {
  if (!ID.test(id)) {
    throw new ProtocolError(
      "CERT_INVALID",
      `identity "${id}" must be 1-64 of A-Z a-z 0-9 . _ - (not first)`,
      {
        id,
      },
    );
  }
}

/** Checks a certificate's shape; returns it typed or throws CERT_INVALID naming the field. */
export function parseCertificate(value: unknown): Certificate {
  const bad = (field: string, expected: string): never => {
    throw new ProtocolError("CERT_INVALID", `certificate field "${field}" must be ${expected}`, { field });
  };
  if (typeof value !== "object" || value === null) bad("(root)", "an object");
  const c = value as Record<string, unknown>;
  if (c.v !== 1) bad("v", "1");
  for (const f of ["serial", "id", "issuer"]) if (typeof c[f] !== "string" || c[f] === "") bad(f, "a string");
  if (c.role !== "ca" && c.role !== "agent" && c.role !== "aggregator")
    bad("role", "ca, agent or aggregator");
  if (typeof c.publicKey !== "string" || fromHex(c.publicKey)?.length !== 32)
    bad("publicKey", "32 bytes hex");
  if (typeof c.boxKey !== "string" || fromHex(c.boxKey)?.length !== 32) bad("boxKey", "32 bytes hex");
  if (!Number.isSafeInteger(c.notBefore)) bad("notBefore", "an integer (ms)");
  if (!Number.isSafeInteger(c.notAfter)) bad("notAfter", "an integer (ms)");
  if (c.home !== undefined && typeof c.home !== "string") bad("home", "a string");
  if (
    c.wallets !== undefined &&
    (!Array.isArray(c.wallets) || c.wallets.some((w) => typeof w !== "string"))
  ) {
    bad("wallets", "a list of strings");
  }
  if (typeof c.sig !== "string" || fromHex(c.sig)?.length !== 64) bad("sig", "64 bytes hex");
  return c as unknown as Certificate;
}

/**
 * Verifies a certificate against the CA's certificate at time `now`: issuer, CA signature, validity and
 * revocation. Throws CERT_INVALID, CERT_EXPIRED, CERT_NOT_YET_VALID or REVOKED_SENDER.
 */
export function verifyCertificate(
  cert: Certificate,
  ca: Certificate,
  now: number,
  revocations?: RevocationList,
  crypto: Ed25519 = defaultEd25519,
): void {
  if (ca.role !== "ca") throw new ProtocolError("CERT_INVALID", `"${ca.id}" is not a CA certificate`);
  if (cert.issuer !== ca.id) {
    throw new ProtocolError(
      "CERT_INVALID",
      `certificate of "${cert.id}" is issued by "${cert.issuer}", not "${ca.id}"`,
    );
  }
  const sig = fromHex(cert.sig);
  const caKey = fromHex(ca.publicKey);
  if (sig === undefined || caKey === undefined || !crypto.verify(sig, certificateSigningBytes(cert), caKey)) {
    throw new ProtocolError("CERT_INVALID", `certificate of "${cert.id}" has a bad CA signature`, {
      id: cert.id,
    });
  }
  if (now < cert.notBefore) {
    throw new ProtocolError(
      "CERT_NOT_YET_VALID",
      `certificate of "${cert.id}" is not valid before ${iso(cert.notBefore)}`,
    );
  }
  if (now > cert.notAfter) {
    throw new ProtocolError("CERT_EXPIRED", `certificate of "${cert.id}" expired at ${iso(cert.notAfter)}`);
  }
  const entry = revocations?.revoked.find((r) => r.serial === cert.serial);
  if (entry !== undefined) {
    throw new ProtocolError("REVOKED_SENDER", `certificate of "${cert.id}" was revoked: ${entry.reason}`, {
      id: cert.id,
      serial: cert.serial,
    });
  }
}

export function verifyRevocationList(
  list: RevocationList,
  ca: Certificate,
  crypto: Ed25519 = defaultEd25519,
): void {
  const sig = fromHex(list.sig);
  const caKey = fromHex(ca.publicKey);
  if (
    list.issuer !== ca.id ||
    sig === undefined ||
    caKey === undefined ||
    !Array.isArray(list.revoked) ||
    !crypto.verify(sig, revocationSigningBytes(list), caKey)
  ) {
    throw new ProtocolError(
      "CERT_INVALID",
      `revocation list (version ${list.version}) has a bad CA signature`,
    );
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The certificates an aggregator or agent knows, checked against the CA and the revocation list: the
 * directory that envelope verification consults. Certificates are verified once, when added.
 */
export class TrustStore implements SenderDirectory {
  readonly ca: Certificate;
  private readonly certs = new Map<string, Certificate>();
  private readonly keys = new Map<string, Uint8Array>();
  private revocations: RevocationList | undefined;
  private readonly revokedSerials = new Set<string>();
  private readonly now: () => number;
  private readonly crypto: Ed25519;

  constructor(ca: Certificate, opts: { now: () => number; crypto?: Ed25519; revocations?: RevocationList }) {
    this.ca = ca;
    this.now = opts.now;
    this.crypto = opts.crypto ?? defaultEd25519;
    const caKey = fromHex(ca.publicKey);
    const caSig = fromHex(ca.sig);
    if (
      caKey === undefined ||
      caSig === undefined ||
      !this.crypto.verify(caSig, certificateSigningBytes(ca), caKey)
    ) {
      throw new ProtocolError("CERT_INVALID", `CA certificate "${ca.id}" is not validly self-signed`);
    }
    if (opts.revocations !== undefined) this.setRevocations(opts.revocations);
  }

  /** Installs a newer revocation list; an older or equal version is ignored (returns false). */
  setRevocations(list: RevocationList): boolean {
    verifyRevocationList(list, this.ca, this.crypto);
    if (this.revocations !== undefined && list.version <= this.revocations.version) return false;
    this.revocations = list;
    this.revokedSerials.clear();
    for (const r of list.revoked) this.revokedSerials.add(r.serial);
    return true;
  }

  revocationVersion(): number {
    return this.revocations?.version ?? 0;
  }

  /** Verifies and adds a certificate; throws the verification error. Revoked ones are kept, but flagged. */
  add(cert: Certificate): void {
    verifyCertificate(cert, this.ca, this.now(), undefined, this.crypto);
    this.certs.set(cert.id, cert);
    this.keys.set(cert.id, fromHex(cert.publicKey)!);
  }

  get(id: string): Certificate | undefined {
    return this.certs.get(id);
  }

  all(): Certificate[] {
    return [...this.certs.values()];
  }

  isRevoked(id: string): boolean {
    const c = this.certs.get(id);
    return c !== undefined && this.revokedSerials.has(c.serial);
  }

  lookup(id: string): SenderKey | undefined {
    const cert = this.certs.get(id);
    if (cert === undefined) return undefined;
    const now = this.now();
    // An expired certificate is treated like a revoked one: the sender is known but may not speak.
    const revoked = this.revokedSerials.has(cert.serial) || now > cert.notAfter || now < cert.notBefore;
    return { publicKey: this.keys.get(id)!, revoked };
  }
}
