import type { CommandModule } from "yargs";
import { defaultDriverFactory } from "../../agent/runtime/drivers.js";
import { systemdNotifier } from "../../agent/runtime/notify.js";
import { startAgent } from "../../agent/runtime/start.js";
import { readStoreCounters } from "../../agent/store/agent-store.js";
import { loadConfigFile } from "../../config/load.js";
import { agentConfigSchema } from "../../config/schema.js";
import { createLogger } from "../../protocol/log.js";

/** Resolves when SIGTERM or SIGINT arrives. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once("SIGTERM", on("SIGTERM"));
    process.once("SIGINT", on("SIGINT"));
  });
}

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
        "readings stored, outbox depth, last receipt",
      ),
  handler: async (a) => {
    const config = loadConfigFile(agentConfigSchema, String(a.config));
    if (a.action === "status") {
      console.log(JSON.stringify({ id: config.id, ...readStoreCounters(config.store.path) }));
      return;
    }
    const log = createLogger(`agent:${config.id}`);
    const agent = await startAgent(config, {
      log,
      notifier: systemdNotifier(process.env, log),
      drivers: defaultDriverFactory(log),
    });
    const sig = await untilSignal();
    log.info("stopping", { signal: sig });
    await agent.stop();
  },
};
