import { createWriteStream } from "node:fs";
import type { Argv, CommandModule } from "yargs";
import { exportLedger } from "../../aggregator/ledger/export.js";
import { machineFactory, machineNames } from "../../aggregator/ledger/machines.js";
import { cachingVerifier, ed25519Verifier } from "../../aggregator/ledger/signing.js";
import { BlockStore, type LedgerMember } from "../../aggregator/ledger/store.js";
import { verifyLedger } from "../../aggregator/ledger/verify.js";
import { LEDGER_MACHINE_NAME, machineForLedger } from "../../aggregator/node/verify.js";
import { fromHex } from "../../protocol/bytes.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { UsageError } from "../exit.js";

interface VerifyArgs {
  db: string;
  machine?: string;
  genesis?: string;
  json: boolean;
}

interface ExportArgs {
  db: string;
  out?: string;
  from: number;
}

function openStore(file: string): BlockStore {
  try {
    return new BlockStore(file, { readonly: true });
  } catch (e) {
    throw new UsageError("USAGE", `--db ${file}: ${(e as Error).message}`);
  }
}

function membersOf(store: BlockStore, file: string): LedgerMember[] {
  const members = store.getMeta<LedgerMember[]>("members");
  if (!Array.isArray(members) || members.length === 0) {
    throw new UsageError("CONFIG", `${file} records no consortium members; it cannot be checked`);
  }
  return members;
}

const verify: CommandModule<object, VerifyArgs> = {
  command: "verify",
  describe: "re-check a ledger: hash chain, Merkle roots, signatures, certificates, re-execution",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "ledger file (SQLite)" })
      .option("machine", {
        type: "string",
        describe: `state machine to re-execute on (${machineNames().join(", ")}); default: the one the ledger names`,
      })
      .option("genesis", {
        type: "string",
        describe: `CA-signed genesis file, needed to re-execute a trading ledger (machine "${LEDGER_MACHINE_NAME}")`,
      })
      .option("json", { type: "boolean", default: false, describe: "print the report as JSON" })
      .example("$0 ledger verify --db eag1.db --genesis genesis.json", "re-execute a trading ledger too")
      .example(
        "$0 ledger verify --db /var/lib/gridlet/eag1/ledger.db",
        "check one aggregator's ledger",
      ) as Argv<VerifyArgs>,
  handler: (a) => {
    const store = openStore(a.db);
    try {
      const members = membersOf(store, a.db);
      const keys = new Map<string, Uint8Array>();
      for (const m of members) {
        const key = fromHex(m.publicKey);
        if (key === undefined || key.length !== 32)
          throw new UsageError("CONFIG", `member ${m.id}: bad public key`);
        keys.set(m.id, key);
      }
      const name = a.machine ?? store.getMeta<string>("machine");
      let make = name === undefined ? undefined : machineFactory(name);
      if (name === LEDGER_MACHINE_NAME) {
        const genesis = a.genesis;
        if (genesis === undefined) {
          throw new UsageError(
            "USAGE",
            `${a.db} holds a trading ledger: name its genesis file with --genesis FILE`,
          );
        }
        make = () => machineForLedger(store, genesis);
      } else if (name !== undefined && make === undefined) {
        throw new UsageError(
          "USAGE",
          `--machine ${name}: unknown (known: ${[...machineNames(), LEDGER_MACHINE_NAME].join(", ")})`,
        );
      }
      const report = verifyLedger(store, {
        members,
        verifier: cachingVerifier(ed25519Verifier(keys, defaultEd25519)),
        machine: make?.(),
        mode: store.getMeta<"pbft" | "pow">("mode") ?? "pbft",
      });
      if (a.json) {
        process.stdout.write(`${JSON.stringify({ ok: true, ...report })}\n`);
      } else {
        process.stdout.write(
          `ledger OK: ${report.blocks} blocks, ${report.transactions} transactions` +
            ` (${report.rejectedTransactions} rejected by the state machine), ${report.checkpointsChecked} checkpoints` +
            (report.stateHash === undefined ? ", not re-executed" : `, state ${report.stateHash}`) +
            `\nhead link ${report.lastLink}\n`,
        );
      }
    } finally {
      store.close();
    }
  },
};

const exportCmd: CommandModule<object, ExportArgs> = {
  command: "export",
  describe: "write the ledger's blocks as JSON lines",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "ledger file (SQLite)" })
      .option("out", { type: "string", describe: "output file (default: standard output)" })
      .option("from", { type: "number", default: 0, describe: "first block position to write" })
      .example("$0 ledger export --db ledger.db > blocks.jsonl", "dump every block")
      .example(
        "$0 ledger export --db ledger.db --from 1000 --out tail.jsonl",
        "dump from block 1000 on",
      ) as Argv<ExportArgs>,
  handler: async (a) => {
    if (!Number.isSafeInteger(a.from) || a.from < 0)
      throw new UsageError("USAGE", "--from must be a non-negative integer");
    const store = openStore(a.db);
    try {
      const out = a.out === undefined ? process.stdout : createWriteStream(a.out);
      const count = await exportLedger(store, out, a.from);
      if (a.out !== undefined) {
        await new Promise<void>((resolve, reject) => {
          out.end(() => resolve());
          out.once("error", reject);
        });
        process.stderr.write(`wrote ${count} blocks to ${a.out}\n`);
      }
    } finally {
      store.close();
    }
  },
};

export const ledgerCommand: CommandModule = {
  command: "ledger <command>",
  describe: "check and export the consortium ledger",
  builder: (y) =>
    y
      .command(verify as unknown as CommandModule)
      .command(exportCmd as unknown as CommandModule)
      .demandCommand(1, "name a ledger command: verify or export")
      .example("$0 ledger verify --db ledger.db", "re-check a ledger")
      .example("$0 ledger export --db ledger.db", "print its blocks as JSON lines"),
  handler: () => {},
};
