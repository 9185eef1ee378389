import { agentConfigSchema } from "../../config/agent.js";
import { loadConfigFile } from "../../config/load.js";
import { createLogger } from "../../protocol/log.js";
import { systemdNotifier } from "../../protocol/notify.js";
import { defaultDriverFactory } from "./drivers.js";
import { untilSignal } from "./signals.js";
import { startAgent } from "./start.js";

/** Runs the agent of one configuration file until SIGTERM/SIGINT, then stops it cleanly. */
export async function runAgent(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfigFile(agentConfigSchema, configPath, env);
  const log = createLogger(`agent:${config.id}`);
  // before the start, so that a signal during it stops the agent once started (aggregator.ts says why)
  const signalled = untilSignal((again) => log.info("already stopping", { signal: again }));
  const agent = await startAgent(config, {
    log,
    notifier: systemdNotifier(env, log),
    drivers: defaultDriverFactory(log),
  });
  const sig = await signalled;
  log.info("stopping", { signal: sig });
  await agent.stop();
}
