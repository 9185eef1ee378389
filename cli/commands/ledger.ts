import { createWriteStream, existsSync } from "node:fs";
import type { Argv, CommandModule } from "yargs";
import { readingsExport } from "../../aggregator/ingest/readings-export.js";
import { exportLedger } from "../../aggregator/ledger/export.js";
import { machineNames } from "../../aggregator/ledger/machines.js";
import { BlockStore } from "../../aggregator/ledger/store.js";
import { LEDGER_MACHINE_NAME } from "../../aggregator/node/verify.js";
import { describeError, GridletError } from "../../protocol/errors.js";
import { UsageError } from "../exit.js";
import { readArgJson, runVerify, type VerifyArgs } from "./ledger-verify.js";

interface ExportArgs {
  db: string;
  out?: string;
  from: number;
  consortium?: string;
  genesis?: string;
  readings?: string[];
}

function openStore(file: string): BlockStore {
  try {
    return new BlockStore(file, { readonly: true });
  } catch (e) {
    throw new UsageError("USAGE", `--db ${file}: ${(e as Error).message}`);
  }
}

const verify: CommandModule<object, VerifyArgs> = {
  command: "verify",
  describe:
    "re-check a ledger: CA anchor, hash chain, Merkle roots, signatures, leaders, certificates, re-execution",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", describe: "ledger file (SQLite)" })
      .option("export", {
        type: "string",
        describe: "ledger export (JSON lines, from `gridlet ledger export`)",
      })
      .option("ca", {
        type: "string",
        describe:
          "the CA certificate (ca.cert.json): take every member key from the CA-signed consortium file",
      })
      .option("consortium", {
        type: "string",
        describe: "CA-signed consortium file, when the ledger does not carry one",
      })
      .option("machine", {
        type: "string",
        describe: `state machine to re-execute on (${machineNames().join(", ")}); default: the one the ledger names`,
      })
      .option("genesis", {
        type: "string",
        describe: `CA-signed genesis file, when the ledger does not carry one (machine "${LEDGER_MACHINE_NAME}")`,
      })
      .option("json", { type: "boolean", default: false, describe: "print the report as JSON" })
      .example("$0 ledger verify --export ledger.jsonl --ca ca.cert.json", "an audit from the CA alone")
      .example("$0 ledger verify --db eag1.db --genesis genesis.json", "re-execute a trading ledger too")
      .example(
        "$0 ledger verify --db /var/lib/gridlet/eag1/ledger.db",
        "check one aggregator's ledger",
      ) as Argv<VerifyArgs>,
  handler: (a) => {
    let report: ReturnType<typeof runVerify>;
    try {
      report = runVerify(a);
    } catch (e) {
      // A ledger or export that fails a check is the audit's verdict (exit 1), even where the same
      // code means a bad configuration to a starting aggregator (a consortium file the CA did not sign).
      if (e instanceof UsageError || !(e instanceof GridletError)) throw e;
      throw new GridletError("VERIFY_FAILED", describeError(e), { cause: e.code });
    }
    if (a.json) {
      process.stdout.write(`${JSON.stringify({ ok: true, ...report })}\n`);
      return;
    }
    process.stdout.write(
      `ledger OK: ${report.blocks} blocks, ${report.transactions} transactions` +
        ` (${report.rejectedTransactions} rejected by the state machine), ${report.checkpointsChecked} checkpoints` +
        (report.checkpointsAhead > 0 ? ` (+${report.checkpointsAhead} past the head)` : "") +
        (report.stateHash === undefined ? ", not re-executed" : `, state ${report.stateHash}`) +
        `\nhead link ${report.lastLink}\n` +
        (report.anchored
          ? `member keys from the CA-signed consortium file "${report.consortium}"\n`
          : "member keys from the ledger's own metadata: NOT anchored to a CA (pass --ca CA_CERT)\n") +
        (report.evidence === undefined
          ? ""
          : `meter summaries: ${report.evidence.summariesChecked} proven by ${report.evidence.readings} signed readings (${report.evidence.provenImportWh} Wh import, ${report.evidence.provenExportWh} Wh export)\n`),
    );
  },
};

const exportCmd: CommandModule<object, ExportArgs> = {
  command: "export",
  describe:
    "write the ledger as JSON lines: header (meta, consortium and genesis files), blocks, checkpoints",
  builder: (y: Argv) =>
    y
      .option("db", { type: "string", demandOption: true, describe: "ledger file (SQLite)" })
      .option("out", { type: "string", describe: "output file (default: standard output)" })
      .option("from", { type: "number", default: 0, describe: "first block position to write" })
      .option("consortium", {
        type: "string",
        describe: "CA-signed consortium file to carry, when the ledger file does not record one",
      })
      .option("genesis", {
        type: "string",
        describe: "CA-signed genesis file to carry, when the ledger file does not record one",
      })
      .option("readings", {
        type: "string",
        array: true,
        describe:
          "aggregator store(s) (SQLite) whose signed readings to append, for the audit of every summary",
      })
      .example("$0 ledger export --db ledger.db > blocks.jsonl", "dump every block")
      .example(
        "$0 ledger export --db eag0.ledger.db --readings eag0.sqlite eag1.sqlite --out audit.jsonl",
        "the ledger and the readings behind its meter summaries",
      )
      .example(
        "$0 ledger export --db ledger.db --from 1000 --out tail.jsonl",
        "dump from block 1000 on",
      ) as Argv<ExportArgs>,
  handler: async (a) => {
    if (!Number.isSafeInteger(a.from) || a.from < 0)
      throw new UsageError("USAGE", "--from must be a non-negative integer");
    for (const f of a.readings ?? [])
      if (!existsSync(f)) throw new UsageError("USAGE", `--readings ${f}: no such aggregator store`);
    const store = openStore(a.db);
    try {
      const out = a.out === undefined ? process.stdout : createWriteStream(a.out);
      const count = await exportLedger(store, out, {
        fromSeq: a.from,
        consortium: a.consortium === undefined ? undefined : readArgJson(a.consortium, "--consortium"),
        genesis: a.genesis === undefined ? undefined : readArgJson(a.genesis, "--genesis"),
        extra: a.readings === undefined ? undefined : readingsExport(a.readings),
      });
      if (a.out !== undefined) {
        await new Promise<void>((resolve, reject) => {
          out.end(() => resolve());
          out.once("error", reject);
        });
        process.stderr.write(
          `wrote ${count.blocks} blocks, ${count.checkpoints} checkpoints and ${count.extra} readings to ${a.out}\n`,
        );
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
      .example("$0 ledger verify --export ledger.jsonl --ca ca.cert.json", "audit a ledger from the CA")
      .example("$0 ledger export --db ledger.db --out ledger.jsonl", "write the ledger for an auditor"),
  handler: () => {},
};
