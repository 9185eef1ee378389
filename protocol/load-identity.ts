import { existsSync } from "node:fs";
import { toHex } from "./bytes.js";
import { defaultEd25519 } from "./crypto/index.js";
import { LoadError } from "./errors.js";
import {
  type Certificate,
  type KeyMaterial,
  type RevocationList,
  verifyCertificate,
  verifyRevocationList,
} from "./identity.js";
import { readCertificateFile, readJsonFile, readKeyFile } from "./keyfile.js";

export interface IdentityFiles {
  key: string;
  cert: string;
  ca: string;
  revocations?: string | undefined;
}

export interface LoadedIdentity {
  key: KeyMaterial;
  cert: Certificate;
  ca: Certificate;
  revocations: RevocationList | undefined;
}

/**
 * Loads and cross-checks an identity at start-up, so that a wrong file is reported by name before the
 * process signs anything: the certificate is the CA's, valid now, not revoked, names the configured id,
 * and holds the public key of the key file.
 */
export function loadIdentity(files: IdentityFiles, expectedId: string, now: number): LoadedIdentity {
  const key = readKeyFile(files.key);
  const cert = readCertificateFile(files.cert);
  const ca = readCertificateFile(files.ca);
  let revocations: RevocationList | undefined;
  if (files.revocations !== undefined && existsSync(files.revocations)) {
    revocations = readJsonFile(files.revocations, "revocation list") as RevocationList;
    verifyRevocationList(revocations, ca);
  }
  verifyCertificate(cert, ca, now, revocations);
  if (cert.id !== expectedId) {
    throw new LoadError(
      "IDENTITY_MISMATCH",
      `configuration id is "${expectedId}" but certificate ${files.cert} is for "${cert.id}"`,
    );
  }
  if (toHex(defaultEd25519.publicKey(key.seed)) !== cert.publicKey) {
    throw new LoadError(
      "IDENTITY_MISMATCH",
      `key file ${files.key} does not hold the private key of certificate ${files.cert}`,
    );
  }
  return { key, cert, ca, revocations };
}
