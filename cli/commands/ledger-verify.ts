import { readFileSync } from "node:fs";
import { LedgerExport } from "../../aggregator/ledger/export.js";
import { machineFactory, machineNames } from "../../aggregator/ledger/machines.js";
import { cachingVerifier, ed25519Verifier } from "../../aggregator/ledger/signing.js";
import { BlockStore, type LedgerMember } from "../../aggregator/ledger/store.js";
import { type LedgerSource, type VerifyReport, verifyLedger } from "../../aggregator/ledger/verify.js";
import { NodeError } from "../../aggregator/node/errors.js";
import { type LedgerGenesis, verifyGenesis } from "../../aggregator/node/genesis.js";
import { LedgerMachine } from "../../aggregator/node/machine.js";
import { anchorToCa, LEDGER_MACHINE_NAME, type SelfDescription } from "../../aggregator/node/verify.js";
import { type EvidenceReport, verifyEvidence } from "../../aggregator/node/verify-evidence.js";
import type { ReplicatedStateMachine } from "../../aggregator/state/replicated.js";
import { fromHex } from "../../protocol/bytes.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { parseCertificate } from "../../protocol/identity.js";
import { UsageError } from "../exit.js";

export interface VerifyArgs {
  db?: string;
  export?: string;
  ca?: string;
  consortium?: string;
  machine?: string;
  genesis?: string;
  json: boolean;
}

/** A ledger opened for verification: its blocks and checkpoints, what it says about itself, its documents. */
interface Opened {
  source: LedgerSource;
  name: string;
  self: SelfDescription;
  machine: string | undefined;
  mode: "pbft" | "pow";
  consortium: unknown;
  genesis: unknown;
  /** lines of the export besides the ledger: the readings export */
  others: readonly Record<string, unknown>[];
  close(): void;
}

function open(a: VerifyArgs): Opened {
  if ((a.db === undefined) === (a.export === undefined))
    throw new UsageError("USAGE", "name the ledger with exactly one of --db FILE or --export FILE");
  if (a.db !== undefined) {
    let store: BlockStore;
    try {
      store = new BlockStore(a.db, { readonly: true });
    } catch (e) {
      throw new UsageError("USAGE", `--db ${a.db}: ${(e as Error).message}`);
    }
    return {
      source: store,
      name: a.db,
      self: { members: store.getMeta<LedgerMember[]>("members"), genesis: store.getMeta<string>("genesis") },
      machine: store.getMeta<string>("machine"),
      mode: store.getMeta<"pbft" | "pow">("mode") ?? "pbft",
      consortium: store.getMeta("consortiumFile"),
      genesis: store.getMeta("genesisFile"),
      others: [],
      close: () => store.close(),
    };
  }
  const file = a.export!;
  let x: LedgerExport;
  try {
    x = new LedgerExport(file);
  } catch (e) {
    if ((e as { code?: string }).code === "BAD_EXPORT") throw e;
    throw new UsageError("USAGE", `--export ${file}: ${(e as Error).message}`);
  }
  const m = x.header.meta;
  return {
    source: x,
    name: file,
    self: { members: m.members, genesis: m.genesis },
    machine: m.machine ?? undefined,
    mode: m.mode ?? "pbft",
    consortium: x.header.consortium,
    genesis: x.header.genesis,
    others: x.others,
    close: () => {},
  };
}

/** A JSON file named on the command line: unreadable or not JSON is a usage error (exit 2). */
export function readArgJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError("USAGE", `${what} ${path}: ${(e as Error).message}`);
  }
}

function keysOf(members: readonly LedgerMember[]): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const m of members) {
    const key = fromHex(m.publicKey);
    if (key === undefined || key.length !== 32)
      throw new UsageError("CONFIG", `member ${m.id}: bad public key`);
    keys.set(m.id, key);
  }
  return keys;
}

/**
 * `gridlet ledger verify`. With `--ca`, every member key comes from the CA-signed consortium file and the
 * parameters from the CA-signed genesis (both carried by the ledger, or named); without it, from what the
 * ledger says about itself, which only shows that the file is internally consistent.
 */
export function runVerify(
  a: VerifyArgs,
): VerifyReport & { anchored: boolean; consortium?: string; evidence?: EvidenceReport } {
  const l = open(a);
  try {
    const consortiumDoc =
      a.consortium === undefined ? l.consortium : readArgJson(a.consortium, "--consortium");
    const genesisDoc = a.genesis === undefined ? l.genesis : readArgJson(a.genesis, "--genesis");
    const name = a.machine ?? l.machine;
    let members: readonly LedgerMember[];
    let make: (() => ReplicatedStateMachine) | undefined;
    let consortiumName: string | undefined;
    let genesis: LedgerGenesis | undefined;
    if (a.ca !== undefined) {
      if (consortiumDoc === undefined || consortiumDoc === null)
        throw new UsageError("USAGE", `${l.name} carries no consortium file: name it with --consortium FILE`);
      if (genesisDoc === undefined || genesisDoc === null)
        throw new UsageError("USAGE", `${l.name} carries no genesis file: name it with --genesis FILE`);
      const caCert = readArgJson(a.ca, "--ca");
      try {
        const c = parseCertificate(caCert);
        if (c.role !== "ca") throw new Error(`"${c.id}" has role ${c.role}, not ca`);
      } catch (e) {
        throw new UsageError("USAGE", `--ca ${a.ca} is not a CA certificate: ${(e as Error).message}`);
      }
      const anchor = anchorToCa(caCert, { consortium: consortiumDoc, genesis: genesisDoc }, l.self);
      members = anchor.members;
      consortiumName = anchor.consortium.name;
      genesis = anchor.genesis;
      if (name === LEDGER_MACHINE_NAME) make = () => LedgerMachine.fromGenesis(anchor.genesis);
    } else {
      if (!Array.isArray(l.self.members) || l.self.members.length === 0)
        throw new UsageError("CONFIG", `${l.name} records no consortium members; it cannot be checked`);
      members = l.self.members;
      if (name === LEDGER_MACHINE_NAME) {
        if (genesisDoc === undefined || genesisDoc === null)
          throw new UsageError(
            "USAGE",
            `${l.name} holds a trading ledger: name its genesis file with --genesis FILE`,
          );
        const g = verifyGenesis(genesisDoc, { members });
        if (l.self.genesis && l.self.genesis !== g.hash)
          throw new NodeError(
            "STORE_MISMATCH",
            `the ledger was written under genesis ${l.self.genesis.slice(0, 16)}…, not this one (${g.hash.slice(0, 16)}…)`,
          );
        genesis = g;
        make = () => LedgerMachine.fromGenesis(g);
      }
    }
    if (name !== undefined && name !== LEDGER_MACHINE_NAME) {
      make = machineFactory(name);
      if (make === undefined)
        throw new UsageError(
          "USAGE",
          `--machine ${name}: unknown (known: ${[...machineNames(), LEDGER_MACHINE_NAME].join(", ")})`,
        );
    }
    const report = verifyLedger(l.source, {
      members,
      // a member's vote batch signature stands behind many certificates: each is checked once
      verifier: cachingVerifier(ed25519Verifier(keysOf(members), defaultEd25519)),
      machine: make?.(),
      mode: l.mode,
    });
    // with the readings export: every meter summary rebuilt from the signed readings
    const evidence =
      genesis !== undefined && l.others.some((x) => x.kind === "reading")
        ? verifyEvidence(l.source.iterate(), l.others, genesis)
        : undefined;
    return { ...report, anchored: a.ca !== undefined, consortium: consortiumName, evidence };
  } finally {
    l.close();
  }
}
