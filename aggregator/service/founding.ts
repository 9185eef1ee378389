import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "#yaml";
import type { CaDirectory } from "../../protocol/ca-dir.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { parseCertificate } from "../../protocol/identity.js";
import { readKeyFile } from "../../protocol/keyfile.js";
import { type ConsortiumFile, signConsortium, verifyConsortium } from "../consensus/consortium.js";
import { type BankGenesis, createGenesis, type GenesisFile } from "../node/genesis.js";
import { LedgerServiceError } from "./errors.js";

/**
 * The CA's side of founding a consortium (docs/CONSORTIUM.md): the consortium file from the issued
 * aggregator certificates and their broker URLs, and the genesis from a parameters file. Both are
 * signed with the CA key in the CA directory.
 */
export function foundConsortium(
  ca: CaDirectory,
  o: { name: string; members: { id: string; broker: string }[]; issued: number },
): ConsortiumFile {
  const members = o.members.map((m) => {
    const path = join(ca.dir, "certs", `${m.id}.cert.json`);
    if (!existsSync(path))
      throw new LedgerServiceError("BAD_CONFIG", `no certificate ${path}: issue it first (gridlet ca issue)`);
    const cert = parseCertificate(JSON.parse(readFileSync(path, "utf8")));
    if (cert.role !== "aggregator")
      throw new LedgerServiceError("BAD_CONFIG", `${m.id} is a ${cert.role}, not an aggregator`);
    return { id: m.id, publicKey: cert.publicKey, broker: m.broker };
  });
  const seed = readKeyFile(ca.keyPath).seed;
  return signConsortium({ v: 1, name: o.name, issued: o.issued, members }, seed, defaultEd25519);
}

/**
 * The genesis of a consortium file: `params` is YAML `{trading: {...}, credit: {...}, banks: {<member>:
 * {fundsMc, wallet?}}, allocation?}`; a bank's token key is its aggregator's identity key.
 */
export function foundGenesis(
  ca: CaDirectory,
  consortium: unknown,
  params: string,
  issued: number,
): GenesisFile {
  const caKey = Buffer.from(ca.caCertificate().publicKey, "hex");
  const c = verifyConsortium(consortium, caKey, defaultEd25519);
  let p: {
    trading?: unknown;
    credit?: unknown;
    banks?: Record<string, { fundsMc: number; wallet?: string }>;
    allocation?: "home-on-first-wallet" | "manual";
  };
  try {
    p = (parse(readFileSync(params, "utf8")) ?? {}) as typeof p;
  } catch (e) {
    throw new LedgerServiceError("BAD_CONFIG", `cannot read ${params}: ${(e as Error).message}`);
  }
  const banks: Record<string, BankGenesis> = {};
  for (const [id, b] of Object.entries(p.banks ?? {})) {
    const m = c.members.find((x) => x.id === id);
    if (m === undefined) throw new LedgerServiceError("BAD_CONFIG", `banks.${id}: not a consortium member`);
    banks[id] = { publicKey: m.publicKey, wallet: b.wallet ?? `bank-${id}-wallet`, fundsMc: b.fundsMc };
  }
  return createGenesis(ca, {
    consortium: { name: c.name, members: c.members },
    issued,
    trading: p.trading ?? {},
    credit: p.credit ?? {},
    banks,
    ...(p.allocation === undefined ? {} : { allocation: p.allocation }),
  });
}
