import type { CommandModule } from "yargs";
import { loadConfigFile } from "../../config/load.js";
import { agentConfigSchema } from "../../config/schema.js";
import { UsageError } from "../exit.js";

export const agentCommand: CommandModule = {
  command: "agent [action]",
  describe:
    "run the meter agent (read meters, store, sign, publish), print its store counters, or declare a replaced meter",
  builder: (y) =>
    y
      .positional("action", { choices: ["run", "status", "replace-meter"] as const, default: "run" })
      .option("config", { type: "string", demandOption: true, describe: "agent configuration (YAML)" })
      .option("meter", { type: "string", describe: "replace-meter: the id of the meter that was replaced" })
      .option("at", {
        type: "number",
        describe: "replace-meter: from when the new meter's registers count (ms since epoch; default now)",
      })
      .option("reason", { type: "string", default: "", describe: "replace-meter: a note for the record" })
      .example("$0 agent --config /etc/gridlet/agent.yaml", "run the agent")
      .example(
        "$0 agent status --config /etc/gridlet/agent.yaml",
        "readings, outbox, and balance, orders, trades, reputation from the last account view",
      )
      .example(
        "$0 agent replace-meter --config /etc/gridlet/agent.yaml --meter main",
        "the meter 'main' was swapped: its registers start again (a signed meter.replace)",
      ),
  handler: async (a) => {
    // Modules loaded on demand: a command should not carry what only another one needs.
    if (a.action === "status") {
      const config = loadConfigFile(agentConfigSchema, String(a.config));
      const { readStoreCounters } = await import("../../agent/store/agent-store.js");
      const { readTradingStatus } = await import("../../agent/participant/status.js");
      const counters = readStoreCounters(config.store.path);
      const trading = readTradingStatus(config.store.path);
      console.log(JSON.stringify({ id: config.id, ...counters, ...(trading === null ? {} : { trading }) }));
      return;
    }
    if (a.action === "replace-meter") {
      const config = loadConfigFile(agentConfigSchema, String(a.config));
      const meter = a.meter as string | undefined;
      if (meter === undefined || !config.meters.some((m) => m.id === meter))
        throw new UsageError(
          "USAGE",
          `replace-meter needs --meter, one of ${config.meters.map((m) => m.id).join(", ")}`,
        );
      const at = a.at === undefined ? Date.now() : Number(a.at);
      if (!Number.isSafeInteger(at) || at < 0)
        throw new UsageError("USAGE", "--at must be a time in ms since the epoch");
      const { replaceMeter } = await import("../../agent/runtime/replace-meter.js");
      const { seq } = replaceMeter(config, meter, at, String(a.reason ?? ""));
      console.log(JSON.stringify({ id: config.id, meter, at, seq }));
      return;
    }
    const { runAgent } = await import("../../agent/runtime/run.js");
    await runAgent(String(a.config));
  },
};
