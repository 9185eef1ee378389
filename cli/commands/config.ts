import type { CommandModule } from "yargs";
import { ConfigError, parseConfigText, parseYamlMapping, readConfigText } from "../../config/load.js";
import { type AgentConfig, agentConfigSchema, aggregatorConfigSchema } from "../../config/schema.js";
import { EXIT_USAGE } from "../exit.js";

type Kind = "agent" | "aggregator";

/** Tells the two configurations apart by the sections only one of them has. */
export function detectConfigKind(doc: Record<string, unknown>): Kind | undefined {
  const agent = ["meters", "mqtt", "aggregator", "homeAssistant", "trading"].some((k) => k in doc);
  const aggregator = ["broker", "ingest", "trust", "consortium", "genesis", "bank", "consensus"].some(
    (k) => k in doc,
  );
  if (agent === aggregator) return undefined;
  return agent ? "agent" : "aggregator";
}

/** Validates one file; returns the line to print, or throws the ConfigError that names the problem. */
export function checkConfigFile(file: string, as: Kind | undefined, env: NodeJS.ProcessEnv): string {
  const text = readConfigText(file);
  const kind = as ?? detectConfigKind(parseYamlMapping(text, file));
  if (kind === undefined) {
    throw new ConfigError(
      "CONFIG_INVALID",
      `${file}: cannot tell an agent configuration (meters, mqtt) from an aggregator one (broker, ingest); say which with --as`,
    );
  }
  if (kind === "agent") {
    const c: AgentConfig = parseConfigText(agentConfigSchema, text, file, env);
    const n = c.meters.length;
    return `${file}: valid agent configuration "${c.id}" (${n} meter${n === 1 ? "" : "s"}, home ${c.aggregator.id})`;
  }
  const c = parseConfigText(aggregatorConfigSchema, text, file, env);
  const role = c.consortium === undefined ? "ingest only" : "consortium member";
  return `${file}: valid aggregator configuration "${c.id}" (${role})`;
}

const check: CommandModule<object, { files: string[]; as?: Kind }> = {
  command: "check <files..>",
  describe:
    "validate agent or aggregator configurations (which one is detected), with this environment's GRIDLET_CFG__ overrides",
  builder: (y) =>
    y
      .positional("files", { type: "string", array: true, demandOption: true, describe: "YAML files" })
      .option("as", {
        choices: ["agent", "aggregator"] as const,
        describe: "the kind, when it cannot be told",
      })
      .example("$0 config check /etc/gridlet/agent.yaml", "exit 0 when valid, 2 naming each wrong field")
      .example("$0 config check config/*.example.yaml", "several files at once") as never,
  handler: (a) => {
    let failed = false;
    for (const file of a.files) {
      try {
        process.stdout.write(`${checkConfigFile(String(file), a.as, process.env)}\n`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        process.stderr.write(`gridlet: ${e.message}\n`);
        failed = true;
      }
    }
    if (failed) process.exitCode = EXIT_USAGE;
  },
};

export const configCommand: CommandModule = {
  command: "config <command>",
  describe: "check configuration files before a service starts with them",
  builder: (y) =>
    y
      .command(check as unknown as CommandModule)
      .demandCommand(1, "name a config command: check")
      .example("$0 config check /etc/gridlet/aggregator.yaml", "validate an aggregator configuration"),
  handler: () => {},
};
