import { readFileSync, writeFileSync } from "node:fs";
import type { CommandModule } from "yargs";
import { untilSignal } from "../../agent/runtime/signals.js";
import { loadConfigFile } from "../../config/load.js";
import { aggregatorConfigSchema } from "../../config/schema.js";
import { createLogger } from "../../protocol/log.js";
import { plainRemoteHost } from "../../protocol/tls.js";
import { UsageError } from "../exit.js";

const need = (value: unknown, what: string, action: string): string => {
  if (typeof value !== "string" || value === "")
    throw new UsageError("USAGE", `aggregator ${action} needs ${what}`);
  return value;
};

export const aggregatorCommand: CommandModule = {
  command: "aggregator [action]",
  describe:
    "run the aggregator (broker, ingest, the consortium's ledger), print its counters, or (as the CA) write a consortium or genesis file",
  builder: (y) =>
    y
      .positional("action", { choices: ["run", "status", "consortium", "genesis"] as const, default: "run" })
      .option("config", { type: "string", describe: "aggregator configuration (YAML): run, status" })
      .option("ca-dir", { type: "string", describe: "CA directory (gridlet ca init): consortium, genesis" })
      .option("name", { type: "string", describe: "consortium name: consortium" })
      .option("member", {
        type: "string",
        array: true,
        describe: "ID=BROKER_URL, in consensus order: consortium",
      })
      .option("consortium", { type: "string", describe: "the signed consortium file: genesis" })
      .option("params", { type: "string", describe: "YAML {trading, credit, banks}: genesis" })
      .option("out", { type: "string", describe: "file to write: consortium, genesis" })
      .example("$0 aggregator --config /etc/gridlet/aggregator.yaml", "run the aggregator")
      .example(
        "$0 aggregator status --config /etc/gridlet/aggregator.yaml",
        "readings stored, rejections by code",
      )
      .example(
        "$0 aggregator consortium --ca-dir ca --name grid --member eag0=mqtts://10.0.0.1:8883 --member eag1=mqtts://10.0.0.2:8883 --out consortium.json",
        "the CA signs the member list",
      )
      .example(
        "$0 aggregator genesis --ca-dir ca --consortium consortium.json --params ledger.yaml --out genesis.json",
        "the CA signs the ledger's parameters",
      ),
  handler: async (a) => {
    const action = String(a.action);
    if (action === "consortium" || action === "genesis") {
      const [{ CaDirectory }, founding] = await Promise.all([
        import("../../protocol/ca-dir.js"),
        import("../../aggregator/service/founding.js"),
      ]);
      const ca = new CaDirectory(need(a.caDir, "--ca-dir", action));
      const out = need(a.out, "--out", action);
      let file: unknown;
      if (action === "consortium") {
        const members = ((a.member as string[] | undefined) ?? []).map((m) => {
          const i = m.indexOf("=");
          if (i < 1) throw new UsageError("USAGE", `--member ${m}: expected ID=BROKER_URL`);
          const broker = m.slice(i + 1);
          // peers refuse such a URL at start: the file would have to be signed again
          if (plainRemoteHost(broker) !== undefined)
            throw new UsageError("USAGE", `--member ${m}: plain MQTT to another machine; use mqtts://`);
          return { id: m.slice(0, i), broker };
        });
        if (members.length === 0)
          throw new UsageError("USAGE", "aggregator consortium needs --member ID=URL");
        file = founding.foundConsortium(ca, {
          name: need(a.name, "--name", action),
          members,
          issued: Date.now(),
        });
      } else {
        const consortiumPath = need(a.consortium, "--consortium", action);
        const consortium = JSON.parse(readFileSync(consortiumPath, "utf8")) as unknown;
        file = founding.foundGenesis(ca, consortium, need(a.params, "--params", action), Date.now());
      }
      writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
      process.stdout.write(`${out}\n`);
      return;
    }
    const config = loadConfigFile(aggregatorConfigSchema, need(a.config, "--config", action));
    if (action === "status") {
      const { readAggregatorStatus } = await import("../../aggregator/ingest/store.js");
      console.log(JSON.stringify({ id: config.id, ...readAggregatorStatus(config.store.path) }));
      return;
    }
    // Loaded on demand so that other commands (the agent above all) do not carry the broker.
    const [{ systemdNotifier }, { startAggregator }] = await Promise.all([
      import("../../protocol/notify.js"),
      import("../../aggregator/runtime/aggregator.js"),
    ]);
    const log = createLogger(`aggregator:${config.id}`);
    // The handlers go in before the start: a SIGTERM that arrives while the aggregator starts (a
    // supervisor stopping it early; a loaded machine where "ledger started" is out before the start
    // returns) then stops it once it has started, instead of ending it by the signal's default action.
    const signalled = untilSignal((again) => log.info("already stopping", { signal: again }));
    const agg = await startAggregator(config, { log, notifier: systemdNotifier(process.env, log) });
    if (agg.broker !== undefined) log.info("agents connect to", { url: agg.url });
    const sig = await signalled;
    log.info("stopping", { signal: sig });
    await agg.stop();
  },
};
