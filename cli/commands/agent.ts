import type { CommandModule } from "yargs";
import { loadConfigFile } from "../../config/load.js";
import { agentConfigSchema } from "../../config/schema.js";

export const agentCommand: CommandModule = {
  command: "agent [action]",
  describe: "run the meter agent (read meters, store, sign, publish), or print its store counters",
  builder: (y) =>
    y
      .positional("action", { choices: ["run", "status"] as const, default: "run" })
      .option("config", { type: "string", demandOption: true, describe: "agent configuration (YAML)" })
      .example("$0 agent --config /etc/gridlet/agent.yaml", "run the agent")
      .example(
        "$0 agent status --config /etc/gridlet/agent.yaml",
        "readings, outbox, and balance, orders, trades, reputation from the last account view",
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
    const { runAgent } = await import("../../agent/runtime/run.js");
    await runAgent(String(a.config));
  },
};
