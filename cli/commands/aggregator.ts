import type { CommandModule } from "yargs";
import { untilSignal } from "../../agent/runtime/signals.js";
import { loadConfigFile } from "../../config/load.js";
import { aggregatorConfigSchema } from "../../config/schema.js";
import { createLogger } from "../../protocol/log.js";

export const aggregatorCommand: CommandModule = {
  command: "aggregator [action]",
  describe: "run the aggregator (broker, authentication, ingest, receipts), or print its counters",
  builder: (y) =>
    y
      .positional("action", { choices: ["run", "status"] as const, default: "run" })
      .option("config", { type: "string", demandOption: true, describe: "aggregator configuration (YAML)" })
      .example("$0 aggregator --config /etc/gridlet/aggregator.yaml", "run the aggregator")
      .example(
        "$0 aggregator status --config /etc/gridlet/aggregator.yaml",
        "readings stored, rejections by code",
      ),
  handler: async (a) => {
    const config = loadConfigFile(aggregatorConfigSchema, String(a.config));
    if (a.action === "status") {
      const { readAggregatorStatus } = await import("../../aggregator/ingest/store.js");
      console.log(JSON.stringify({ id: config.id, ...readAggregatorStatus(config.store.path) }));
      return;
    }
    // Loaded on demand so that other commands (the agent above all) do not carry the broker.
    const [{ systemdNotifier }, { startAggregator }] = await Promise.all([
      import("../../agent/runtime/notify.js"),
      import("../../aggregator/runtime/aggregator.js"),
    ]);
    const log = createLogger(`aggregator:${config.id}`);
    const agg = await startAggregator(config, { log, notifier: systemdNotifier(process.env, log) });
    if (agg.broker !== undefined) log.info("agents connect to", { url: agg.url });
    const sig = await untilSignal();
    log.info("stopping", { signal: sig });
    await agg.stop();
  },
};
