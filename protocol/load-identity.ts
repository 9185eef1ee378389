import { existsSync } from "node:fs";
import { toHex } from "./bytes.js";
import { defaultEd25519 } from "./crypto/index.js";
import { describeError, LoadError } from "./errors.js";
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
  const key = fileField("identity.key", files.key, () => readKeyFile(files.key));
  const cert = fileField("identity.cert", files.cert, () => readCertificateFile(files.cert));
  const ca = fileField("identity.ca", files.ca, () => readCertificateFile(files.ca));
  let revocations: RevocationList | undefined;
  const revocationsFile = files.revocations;
  if (revocationsFile !== undefined && existsSync(revocationsFile)) {
    revocations = fileField("identity.revocations", revocationsFile, () => {
      const list = readJsonFile(revocationsFile, "revocation list") as RevocationList;
      verifyRevocationList(list, ca);
      return list;
    });
  }
  fileField("identity.cert", files.cert, () => verifyCertificate(cert, ca, now, revocations));
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

/** Runs a step of loading one configured file; any failure names the configuration field and file. */
function fileField<T>(field: string, path: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new LoadError("IDENTITY_FILE", `${field} (${path}): ${describeError(e)}`, { field, path });
  }
}
