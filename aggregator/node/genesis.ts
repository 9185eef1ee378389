import { readFileSync, writeFileSync } from "node:fs";
import { z } from "#zod";
import { fromHex, toHex } from "../../protocol/bytes.js";
import type { CaDirectory } from "../../protocol/ca-dir.js";
import { signingBytes } from "../../protocol/canonical.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { sha256Hex } from "../../protocol/hash.js";
import { type Certificate, certificateSigningBytes, parseCertificate } from "../../protocol/identity.js";
import { readKeyFile } from "../../protocol/keyfile.js";
import { type CreditConfig, creditConfigSchema } from "../credit/config.js";
import { type TradingConfig, tradingConfigSchema } from "../state/config.js";
import { NodeError } from "./errors.js";

export const GENESIS_DOMAIN = "gridlet/genesis/v1";

/** A consortium member as the ledger knows it: consensus order, id and ed25519 key (hex). */
export interface Authority {
  id: string;
  publicKey: string;
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, "must be 32 bytes of lower-case hex");

const bankSchema = z
  .object({
    /** ed25519 key that signs the bank's credit tokens */
    publicKey: hex32,
    /** the bank's wallet in the trading ledger: opened and funded at genesis */
    wallet: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, "8 to 128 characters of [A-Za-z0-9_-]"),
    fundsMc: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

export const genesisBodySchema = z
  .object({
    v: z.literal(1),
    /** name of the consortium file this ledger runs under */
    consortium: z.string().min(1),
    issued: z.number().int().nonnegative(),
    /** the CA's self-signed certificate: the root that agent certificates and revocations are checked against */
    ca: z.unknown(),
    trading: z.unknown(),
    credit: z.unknown(),
    banks: z.record(z.string().min(1), bankSchema),
    /**
     * "home-on-first-wallet": the agent's home aggregator submits `allocate` once its first wallet is
     * registered (seed 000: every node starts with the same coins); "manual": only explicit allocations.
     */
    allocation: z.enum(["home-on-first-wallet", "manual"]),
  })
  .strict();

const fileSchema = z.object({ genesis: genesisBodySchema, caSig: z.string() }).strict();

export type GenesisBody = z.infer<typeof genesisBodySchema>;
export interface GenesisFile {
  genesis: GenesisBody;
  caSig: string;
}
export type BankGenesis = z.infer<typeof bankSchema>;

/** A verified genesis with its parameters resolved: what the ledger machine is built from. */
export interface LedgerGenesis {
  /** SHA-256 of the signed bytes: names the ledger in block store meta */
  hash: string;
  consortium: string;
  issued: number;
  ca: Certificate;
  trading: TradingConfig;
  credit: CreditConfig;
  banks: Record<string, BankGenesis>;
  allocation: GenesisBody["allocation"];
  /** consortium members in consensus order: the only senders of system transactions */
  authorities: Authority[];
  /** the CA-signed file as verified, recorded in the ledger's meta so that an export carries it */
  signed: GenesisFile;
}

export interface CreateGenesisOptions {
  consortium: { name: string; members: readonly Authority[] };
  issued: number;
  trading?: unknown;
  credit?: unknown;
  banks?: Record<string, BankGenesis>;
  allocation?: GenesisBody["allocation"];
  crypto?: Ed25519;
}

/** Builds and CA-signs a genesis (for `gridlet demo`, tests and a consortium's founding). */
export function createGenesis(ca: CaDirectory, o: CreateGenesisOptions): GenesisFile {
  const crypto = o.crypto ?? defaultEd25519;
  const body: GenesisBody = {
    v: 1,
    consortium: o.consortium.name,
    issued: o.issued,
    ca: ca.caCertificate(),
    trading: parseSection("trading", tradingConfigSchema, o.trading ?? {}),
    credit: parseSection("credit", creditConfigSchema, o.credit ?? {}),
    banks: o.banks ?? {},
    allocation: o.allocation ?? "home-on-first-wallet",
  };
  const parsed = parseBody(body, o.consortium.members);
  const caKey = readKeyFile(ca.keyPath);
  const caSig = toHex(crypto.sign(signingBytes(GENESIS_DOMAIN, parsed.body), caKey.seed));
  return { genesis: parsed.body, caSig };
}

export interface VerifyGenesisOptions {
  /** consortium members in consensus order (from the consortium file or the ledger's meta) */
  members: readonly Authority[];
  /** the consortium's name, when known: a genesis of another consortium is refused */
  consortium?: string;
  /** the CA key the operator trusts; without it, the genesis's own CA certificate is the anchor */
  caPublicKey?: Uint8Array;
  crypto?: Ed25519;
}

/** Checks shape, parameters, the CA's signature and agreement with the consortium; resolves the parameters. */
export function verifyGenesis(value: unknown, o: VerifyGenesisOptions): LedgerGenesis {
  const crypto = o.crypto ?? defaultEd25519;
  const file = fileSchema.safeParse(value);
  if (!file.success) throw invalid(file.error, "");
  const { body, ca, trading, credit } = parseBody(file.data.genesis, o.members);
  const caKey = fromHex(ca.publicKey)!;
  if (!crypto.verify(fromHex(ca.sig)!, certificateSigningBytes(ca), caKey))
    throw new NodeError("GENESIS_INVALID", "genesis.ca is not a validly self-signed CA certificate");
  if (o.caPublicKey !== undefined && toHex(o.caPublicKey) !== ca.publicKey)
    throw new NodeError("GENESIS_SIGNATURE", "the genesis names another CA than the one trusted here");
  const sig = fromHex(file.data.caSig);
  const bytes = signingBytes(GENESIS_DOMAIN, body);
  if (sig === undefined || sig.length !== 64 || !crypto.verify(sig, bytes, caKey))
    throw new NodeError("GENESIS_SIGNATURE", "the genesis is not signed by its CA");
  if (o.consortium !== undefined && o.consortium !== body.consortium)
    throw new NodeError(
      "GENESIS_INVALID",
      `genesis.consortium: "${body.consortium}", but the consortium file is "${o.consortium}"`,
    );
  return {
    hash: sha256Hex(bytes),
    consortium: body.consortium,
    issued: body.issued,
    ca,
    trading,
    credit,
    banks: body.banks,
    allocation: body.allocation,
    authorities: o.members.map((m) => ({ id: m.id, publicKey: m.publicKey })),
    signed: { genesis: body, caSig: file.data.caSig },
  };
}

export function writeGenesisFile(path: string, g: GenesisFile): void {
  writeFileSync(path, `${JSON.stringify(g, null, 2)}\n`);
}

export function loadGenesisFile(path: string, o: VerifyGenesisOptions): LedgerGenesis {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new NodeError("GENESIS_INVALID", `cannot read genesis ${path}: ${(e as Error).message}`, { path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new NodeError("GENESIS_INVALID", `genesis ${path} is not JSON: ${(e as Error).message}`, { path });
  }
  return verifyGenesis(json, o);
}

function parseBody(
  value: unknown,
  members: readonly Authority[],
): { body: GenesisBody; ca: Certificate; trading: TradingConfig; credit: CreditConfig } {
  const r = genesisBodySchema.safeParse(value);
  if (!r.success) throw invalid(r.error, "genesis.");
  const body = r.data;
  let ca: Certificate;
  try {
    ca = parseCertificate(body.ca);
  } catch (e) {
    throw new NodeError("GENESIS_INVALID", `genesis.ca: ${(e as Error).message}`);
  }
  if (ca.role !== "ca") throw new NodeError("GENESIS_INVALID", "genesis.ca: not a CA certificate");
  const trading = parseSection("trading", tradingConfigSchema, body.trading);
  const credit = parseSection("credit", creditConfigSchema, body.credit);
  if (members.length === 0) throw new NodeError("GENESIS_INVALID", "no consortium members");
  const ids = new Set(members.map((m) => m.id));
  for (const bank of Object.keys(body.banks)) {
    if (!ids.has(bank))
      throw new NodeError("GENESIS_INVALID", `genesis.banks.${bank}: not a consortium member`, { bank });
  }
  const wallets = Object.values(body.banks).map((b) => b.wallet);
  if (new Set(wallets).size !== wallets.length)
    throw new NodeError("GENESIS_INVALID", "genesis.banks: two banks share a wallet");
  return { body, ca, trading, credit };
}

function parseSection<T>(name: string, schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw invalid(r.error, `genesis.${name}.`);
  return r.data;
}

function invalid(err: z.ZodError, prefix: string): NodeError {
  const i = err.issues[0];
  const path = i?.path.length ? i.path.map(String).join(".") : "(root)";
  return new NodeError("GENESIS_INVALID", `${prefix}${path}: ${i?.message ?? "invalid"}`);
}
