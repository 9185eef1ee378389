import "./reflect-shim.js";
import { randomBytes, webcrypto } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type * as X509 from "#x509";
import { CaError } from "../ca-dir.js";
import { assertValidId } from "../identity.js";
import { tlsCaPaths } from "../tls.js";

/*
 * tsyringe (inside @peculiar/x509) looks for the Reflect metadata functions when it is evaluated, so the
 * shim imported above must run first. A static import does not promise that once the program is bundled
 * (scripts/bundle.mjs): the bundler puts the imports of modules it leaves outside (vendor/x509.js) above
 * all the code it bundles, the shim's included. So the library is imported after the shim has run.
 */
const x509: typeof X509 = await import("#x509");

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// @peculiar/x509 is typed against the DOM's Crypto, which Node's webcrypto implements
x509.cryptoProvider.set(webcrypto as ReturnType<typeof x509.cryptoProvider.get>);

/** ECDSA P-256 keys and SHA-256 signatures: what every TLS 1.2/1.3 stack and Mosquitto accept. */
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
/** certificates start a little in the past, so that a peer whose clock is behind still accepts them */
const BACKDATE_MS = 5 * 60_000;
const DEFAULT_LEAF_DAYS = 825;
/** what a DNS subjectAltName may hold: labels of letters, digits and hyphens, optionally `*.` first */
const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface TlsIssued {
  /** PEM certificate */
  certPath: string;
  /** PEM PKCS#8 private key, mode 0600 */
  keyPath: string;
  /** hex serial number */
  serial: string;
  notAfter: Date;
  /** the subjectAltNames of a server certificate (`DNS:…`, `IP:…`) */
  altNames: string[];
}

export interface ServerRequest {
  /** the certificate's common name, and its file names: `<name>.server.crt` */
  name: string;
  /** DNS names and IP addresses clients use to reach the broker (at least one) */
  hosts: string[];
  validDays?: number;
  /** replace a certificate already issued under this name (a renewal) */
  force?: boolean;
}

export interface ClientRequest {
  /** the identity id; it becomes the common name (Mosquitto's use_identity_as_username) */
  id: string;
  validDays?: number;
  force?: boolean;
}

/**
 * The consortium's X.509 CA for TLS, kept beside the ed25519 CA in `<CA dir>/tls/`: `ca.crt`, `ca.key`
 * (mode 0600) and the server and client certificates it issues (`<name>.server.crt`, `<id>.client.crt`,
 * each with its `.key`). The ed25519 CA signs identities and what the ledger holds; this one only lets
 * the two ends of an MQTT connection recognise each other (docs/OPERATIONS.md, "TLS").
 */
export class TlsCa {
  readonly dir: string;
  private readonly paths: ReturnType<typeof tlsCaPaths>;
  private readonly now: () => number;
  private readonly random: (n: number) => Uint8Array;

  constructor(caDir: string, opts: { now?: () => number; random?: (n: number) => Uint8Array } = {}) {
    this.paths = tlsCaPaths(caDir);
    this.dir = this.paths.dir;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  get certPath(): string {
    return this.paths.cert;
  }
  get keyPath(): string {
    return this.paths.key;
  }

  exists(): boolean {
    return existsSync(this.certPath) && existsSync(this.keyPath);
  }

  /** Creates the CA's key pair and self-signed certificate (CN = `name`). */
  async init(name = "gridlet-ca", validDays = 3650): Promise<TlsIssued> {
    assertValidId(name);
    if (existsSync(this.keyPath) || existsSync(this.certPath))
      throw new CaError("CA_EXISTS", `a TLS CA already exists in ${this.dir}`);
    mkdirSync(this.dir, { recursive: true });
    const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    const { notBefore, notAfter } = this.validity(validDays);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: this.serial(),
      name: [{ CN: [`${name} TLS`] }],
      notBefore,
      notAfter,
      signingAlgorithm: ALG,
      keys: keys as CryptoKeyPair,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
      ],
    });
    await writeKey(this.keyPath, keys.privateKey as CryptoKey);
    writeFileSync(this.certPath, cert.toString("pem"));
    return {
      certPath: this.certPath,
      keyPath: this.keyPath,
      serial: cert.serialNumber,
      notAfter,
      altNames: [],
    };
  }

  /** A broker's server certificate for the names and addresses clients connect to. */
  async issueServer(req: ServerRequest, outDir = this.dir): Promise<TlsIssued> {
    assertValidId(req.name);
    if (req.hosts.length === 0)
      throw new CaError("BAD_REQUEST", "a server certificate needs at least one host name or IP address");
    const altNames = req.hosts.map(altName);
    return this.issue(
      `${req.name}.server`,
      req.name,
      outDir,
      req,
      altNames,
      x509.ExtendedKeyUsage.serverAuth,
    );
  }

  /** A client certificate whose CN is the identity id, for brokers that require client certificates. */
  async issueClient(req: ClientRequest, outDir = this.dir): Promise<TlsIssued> {
    assertValidId(req.id);
    return this.issue(`${req.id}.client`, req.id, outDir, req, [], x509.ExtendedKeyUsage.clientAuth);
  }

  private async issue(
    base: string,
    commonName: string,
    outDir: string,
    req: { validDays?: number; force?: boolean },
    altNames: X509.JsonGeneralName[],
    usage: X509.ExtendedKeyUsage,
  ): Promise<TlsIssued> {
    if (!this.exists())
      throw new CaError(
        "CA_MISSING",
        `no TLS CA in ${this.dir} (run: gridlet ca tls-init --dir ${join(this.dir, "..")})`,
      );
    const certPath = join(outDir, `${base}.crt`);
    const keyPath = join(outDir, `${base}.key`);
    if (req.force !== true && (existsSync(certPath) || existsSync(keyPath)))
      throw new CaError("ALREADY_ISSUED", `${certPath} exists; pass --force to replace it (a renewal)`);
    const ca = new x509.X509Certificate(readFileSync(this.certPath, "utf8"));
    const caKey = await readKey(this.keyPath);
    const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    // by default 825 days (what browsers still accept for a server certificate), or up to the CA's end
    const { notBefore, notAfter: wanted } = this.validity(req.validDays ?? DEFAULT_LEAF_DAYS);
    if (req.validDays !== undefined && wanted.getTime() > ca.notAfter.getTime())
      throw new CaError(
        "BAD_REQUEST",
        `the certificate would outlive the TLS CA (until ${ca.notAfter.toISOString()}); ask for fewer days`,
      );
    const notAfter = new Date(Math.min(wanted.getTime(), ca.notAfter.getTime()));
    const extensions: X509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([usage], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ];
    if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: this.serial(),
      subject: [{ CN: [commonName] }],
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingAlgorithm: ALG,
      publicKey: keys.publicKey as CryptoKey,
      signingKey: caKey,
      extensions,
    });
    mkdirSync(outDir, { recursive: true });
    await writeKey(keyPath, keys.privateKey as CryptoKey);
    writeFileSync(certPath, cert.toString("pem"));
    return {
      certPath,
      keyPath,
      serial: cert.serialNumber,
      notAfter,
      altNames: altNames.map((n) => `${n.type === "ip" ? "IP" : "DNS"}:${n.value}`),
    };
  }

  private validity(days: number): { notBefore: Date; notAfter: Date } {
    const now = this.now();
    return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
  }

  /** 16 random bytes, positive as DER integers must be [RFC 5280 4.1.2.2] */
  private serial(): string {
    const b = this.random(16);
    b[0] = (b[0] & 0x7f) | 0x01;
    return Buffer.from(b).toString("hex");
  }
}

/** `127.0.0.1`, `::1` → an IP subjectAltName; `broker.example.org`, `localhost` → a DNS one. */
export function altName(host: string): X509.JsonGeneralName {
  if (isIP(host) !== 0) return { type: "ip", value: host };
  if (host.length > 253 || !DNS_NAME.test(host))
    throw new CaError("BAD_REQUEST", `"${host}" is neither an IP address nor a DNS name`);
  return { type: "dns", value: host.toLowerCase() };
}

async function writeKey(path: string, key: CryptoKey): Promise<void> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  const fd = openSync(path, "w", 0o600);
  try {
    writeFileSync(fd, x509.PemConverter.encode(der, "PRIVATE KEY"));
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

async function readKey(path: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(readFileSync(path, "utf8"))[0];
  return webcrypto.subtle.importKey("pkcs8", der, ALG, false, ["sign"]) as Promise<CryptoKey>;
}
