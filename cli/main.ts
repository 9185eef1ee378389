#!/usr/bin/env node
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { firmwareCommand } from "../firmware-bridge/cli.js";
import { describeError, GridletError } from "../protocol/errors.js";
import { checkLogEnv } from "../protocol/log.js";
import { gridletVersion } from "../protocol/version.js";
import { agentCommand } from "./commands/agent.js";
import { aggregatorCommand } from "./commands/aggregator.js";
import { benchCommand } from "./commands/bench.js";
import { caCommand } from "./commands/ca.js";
import { configCommand } from "./commands/config.js";
import { creditCommand } from "./commands/credit.js";
import { demoCommand } from "./commands/demo.js";
import { ledgerCommand } from "./commands/ledger.js";
import { recordCommand } from "./commands/record.js";
import { replayCommand } from "./commands/replay.js";
import { EXIT_RUNTIME, EXIT_USAGE, UsageError } from "./exit.js";

/** Error codes from any domain that mean "the user asked for something malformed": exit 2. */
const USAGE_CODES = new Set([
  "USAGE",
  "CONFIG",
  "CONFIG_INVALID",
  "CONFIG_UNREADABLE",
  "CONFIG_VERSION",
  "BAD_REQUEST",
]);

/**
 * A reader that stops reading (`gridlet ledger export ... | head`) closes the pipe: that is not a failure.
 * Exit 0 at once and quietly, as cat and grep do, instead of an unhandled EPIPE stack trace.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  const badLogSetting = checkLogEnv(process.env);
  if (badLogSetting !== undefined) {
    process.stderr.write(`gridlet: ${badLogSetting}\n`);
    return EXIT_USAGE;
  }
  const parser = yargs(argv)
    .scriptName("gridlet")
    .usage(
      "$0 <command> [options]\n\nPeer-to-peer energy trading: meter agents, aggregators, consortium ledger.",
    )
    .command(caCommand)
    .command(configCommand)
    .command(agentCommand)
    .command(aggregatorCommand)
    .command(demoCommand)
    .command(recordCommand)
    .command(replayCommand)
    .command(ledgerCommand)
    .command(creditCommand)
    .command(benchCommand)
    .command(firmwareCommand)
    .demandCommand(1, "name a command (see gridlet --help)")
    .strict()
    .recommendCommands()
    .epilogue("Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.")
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) throw err;
      // Throwing stops yargs before it runs the handler of a command whose arguments were rejected.
      throw new UsageError("USAGE", `${msg}\n\nRun "gridlet --help" for the commands.`);
    })
    .help()
    .version(gridletVersion());
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UsageError || (e instanceof GridletError && USAGE_CODES.has(e.code))) {
      process.stderr.write(`gridlet: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`gridlet: ${describeError(e)}\n`);
    if (process.env.GRIDLET_DEBUG && e instanceof Error && !(e instanceof GridletError)) {
      process.stderr.write(`${e.stack}\n`);
    }
    return EXIT_RUNTIME;
  }
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`gridlet: ${describeError(e)}\n`);
    process.exitCode = EXIT_RUNTIME;
  },
);
