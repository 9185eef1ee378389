import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "./bytes.js";
import { boxKeyPairFromSecret } from "./crypto/box.js";
import { defaultEd25519, type Ed25519 } from "./crypto/index.js";
import { errorFamily, type FamilyError } from "./errors.js";
import {
  assertValidId,
  type Certificate,
  type KeyMaterial,
  newKeyMaterial,
  newWalletAddress,
  type RevocationList,
  type Role,
  signCertificate,
  signRevocationList,
} from "./identity.js";
import { readCertificateFile, readJsonFile, readKeyFile, writeJsonFile, writeKeyFile } from "./keyfile.js";

export type CaErrorCode =
  | "CA_EXISTS"
  | "CA_MISSING"
  | "ALREADY_ISSUED"
  | "NOT_ISSUED"
  | "ALREADY_REVOKED"
  | "BAD_REQUEST";
export const { Error: CaError, is: isCaError } = errorFamily<CaErrorCode>("CaError");
export type CaError = FamilyError<CaErrorCode>;

const DAY_MS = 86_400_000;

export interface IssueRequest {
  role: Exclude<Role, "ca">;
  id: string;
  /** home aggregator of an agent */
  home?: string;
  /** number of wallet addresses for an agent */
  wallets?: number;
  validDays?: number;
}

export interface Issued {
  cert: Certificate;
  key: KeyMaterial;
  certPath: string;
  keyPath: string;
}

/**
 * A certificate authority kept in a directory: `ca.key` (0600), `ca.cert.json`, `revocations.json` and a
 * copy of every issued certificate in `certs/`. Time and randomness are injected.
 */
export class CaDirectory {
  readonly dir: string;
  private readonly now: () => number;
  private readonly random: (n: number) => Uint8Array;
  private readonly crypto: Ed25519;

  constructor(
    dir: string,
    opts: { now?: () => number; random?: (n: number) => Uint8Array; crypto?: Ed25519 } = {},
  ) {
    this.dir = dir;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.crypto = opts.crypto ?? defaultEd25519;
  }

  get keyPath(): string {
    return join(this.dir, "ca.key");
  }
  get certPath(): string {
    return join(this.dir, "ca.cert.json");
  }
  get revocationsPath(): string {
    return join(this.dir, "revocations.json");
  }
  private get certsDir(): string {
    return join(this.dir, "certs");
  }

  exists(): boolean {
    return existsSync(this.keyPath) && existsSync(this.certPath);
  }

  init(id = "gridlet-ca", validDays = 3650): Certificate {
    assertValidId(id);
    if (existsSync(this.keyPath)) throw new CaError("CA_EXISTS", `a CA already exists in ${this.dir}`);
    mkdirSync(this.certsDir, { recursive: true });
    const key = newKeyMaterial(id, this.random);
    const now = this.now();
    const cert = signCertificate(
      {
        serial: "0",
        id,
        role: "ca",
        publicKey: toHex(this.crypto.publicKey(key.seed)),
        boxKey: toHex(boxKeyPairFromSecret(key.boxSecret).publicKey),
        notBefore: now,
        notAfter: now + validDays * DAY_MS,
        issuer: id,
      },
      key.seed,
      this.crypto,
    );
    writeKeyFile(this.keyPath, key);
    writeJsonFile(this.certPath, cert);
    writeJsonFile(
      this.revocationsPath,
      signRevocationList({ issuer: id, version: 1, issuedAt: now, revoked: [] }, key.seed, this.crypto),
    );
    return cert;
  }

  caCertificate(): Certificate {
    this.requireCa();
    return readCertificateFile(this.certPath);
  }

  revocations(): RevocationList {
    this.requireCa();
    return readJsonFile(this.revocationsPath, "revocation list") as RevocationList;
  }

  issued(): Certificate[] {
    this.requireCa();
    return readdirSync(this.certsDir)
      .filter((f) => f.endsWith(".cert.json"))
      .map((f) => readCertificateFile(join(this.certsDir, f)));
  }

  /** Issues a key pair and certificate; writes `<id>.key` (0600) and `<id>.cert.json` into `outDir`. */
  issue(req: IssueRequest, outDir: string): Issued {
    this.requireCa();
    assertValidId(req.id);
    if (req.role === "agent" && (req.home === undefined || req.home === "")) {
      throw new CaError("BAD_REQUEST", `an agent certificate needs its home aggregator (--home)`);
    }
    if (req.role === "aggregator" && req.wallets !== undefined && req.wallets > 0) {
      throw new CaError("BAD_REQUEST", "wallet addresses are for agents only");
    }
    const walletCount = req.role === "agent" ? (req.wallets ?? 2) : 0;
    if (!Number.isInteger(walletCount) || walletCount < 0 || walletCount > 64) {
      throw new CaError("BAD_REQUEST", `wallets must be an integer 0..64, got ${req.wallets}`);
    }
    if (existsSync(join(this.certsDir, `${req.id}.cert.json`))) {
      throw new CaError(
        "ALREADY_ISSUED",
        `a certificate for "${req.id}" was already issued; revoke it and use a new id`,
      );
    }
    const caKey = readKeyFile(this.keyPath);
    const ca = this.caCertificate();
    const key = newKeyMaterial(req.id, this.random);
    const now = this.now();
    const cert = signCertificate(
      {
        serial: toHex(this.random(8)),
        id: req.id,
        role: req.role,
        publicKey: toHex(this.crypto.publicKey(key.seed)),
        boxKey: toHex(boxKeyPairFromSecret(key.boxSecret).publicKey),
        notBefore: now,
        notAfter: now + (req.validDays ?? 365) * DAY_MS,
        issuer: ca.id,
        ...(req.role === "agent"
          ? {
              home: req.home,
              wallets: Array.from({ length: walletCount }, () => newWalletAddress(this.random)),
            }
          : {}),
      },
      caKey.seed,
      this.crypto,
    );
    mkdirSync(outDir, { recursive: true });
    const keyPath = join(outDir, `${req.id}.key`);
    const certPath = join(outDir, `${req.id}.cert.json`);
    writeKeyFile(keyPath, key);
    writeJsonFile(certPath, cert);
    writeJsonFile(join(this.certsDir, `${req.id}.cert.json`), cert);
    return { cert, key, certPath, keyPath };
  }

  /** Adds an issued identity to the revocation list and re-signs it with a higher version. */
  revoke(id: string, reason: string): RevocationList {
    this.requireCa();
    const certFile = join(this.certsDir, `${id}.cert.json`);
    if (!existsSync(certFile))
      throw new CaError("NOT_ISSUED", `no certificate was issued to "${id}" by this CA`);
    const cert = readCertificateFile(certFile);
    const list = this.revocations();
    if (list.revoked.some((r) => r.serial === cert.serial)) {
      throw new CaError("ALREADY_REVOKED", `the certificate of "${id}" is already revoked`);
    }
    const caKey = readKeyFile(this.keyPath);
    const next = signRevocationList(
      {
        issuer: list.issuer,
        version: list.version + 1,
        issuedAt: this.now(),
        revoked: [...list.revoked, { id, serial: cert.serial, at: this.now(), reason }],
      },
      caKey.seed,
      this.crypto,
    );
    writeJsonFile(this.revocationsPath, next);
    return next;
  }

  private requireCa(): void {
    if (!this.exists())
      throw new CaError("CA_MISSING", `no CA in ${this.dir} (run: gridlet ca init --dir ${this.dir})`);
  }
}
