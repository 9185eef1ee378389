#!/usr/bin/env node
import type { CommandModule } from "yargs";
import { describeError, GridletError } from "../protocol/errors.js";
import { describeFatal, exitCodeFor, installFatalHandlers } from "../protocol/exit-codes.js";
import { checkLogEnv } from "../protocol/log.js";
import { gridletVersion } from "../protocol/version.js";
import { EXIT_RUNTIME, EXIT_USAGE, UsageError } from "./exit.js";
import { loadYargs } from "./lean-yargs.js";

/**
 * The commands, in the order `--help` lists them, each loaded on demand: a process that runs one
 * command (an agent, `ca issue`) does not load the broker, the ledger or the serial ports of the others,
 * which would cost a few hundred milliseconds of start-up each time.
 */
const COMMANDS: Record<string, () => Promise<unknown>> = {
  ca: async () => (await import("./commands/ca.js")).caCommand,
  config: async () => (await import("./commands/config.js")).configCommand,
  agent: async () => (await import("./commands/agent.js")).agentCommand,
  aggregator: async () => (await import("./commands/aggregator.js")).aggregatorCommand,
  demo: async () => (await import("./commands/demo.js")).demoCommand,
  record: async () => (await import("./commands/record.js")).recordCommand,
  replay: async () => (await import("./commands/replay.js")).replayCommand,
  ledger: async () => (await import("./commands/ledger.js")).ledgerCommand,
  credit: async () => (await import("./commands/credit.js")).creditCommand,
  bench: async () => (await import("./commands/bench.js")).benchCommand,
  firmware: async () => (await import("../firmware-bridge/cli.js")).firmwareCommand,
};

/** The command modules `argv` needs: the one it names, or all of them (help, a typo, no command). */
async function commandsFor(argv: string[]): Promise<CommandModule[]> {
  const named = argv.find((a) => !a.startsWith("-"));
  if (named === undefined && argv.length === 1 && argv[0] === "--version") return [];
  const names = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  // each module's own type says what its handler takes; yargs checks the arguments against its builder
  return (await Promise.all(names.map((n) => COMMANDS[n]()))) as CommandModule[];
}

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

/**
 * yargs renders the whole help text each time a command's handler starts, in case that command fails
 * later and its help should be shown (about 30 ms of every agent's and aggregator's start, measured in a
 * CPU profile). Our `.fail()` never shows help, and `--help` renders it afresh anyway, so that copy is
 * never read: skip it. The hook is internal to yargs; if a version lacks it, nothing changes.
 */
function skipHelpCache(parser: unknown): void {
  const internal = (parser as { getInternalMethods?: () => { getUsageInstance?: () => unknown } })
    .getInternalMethods?.()
    .getUsageInstance?.() as { cacheHelpMessage?: () => void } | undefined;
  if (typeof internal?.cacheHelpMessage === "function") internal.cacheHelpMessage = () => {};
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  const badLogSetting = checkLogEnv(process.env);
  if (badLogSetting !== undefined) {
    process.stderr.write(`gridlet: ${badLogSetting}\n`);
    return EXIT_USAGE;
  }
  const yargs = await loadYargs();
  let parser = yargs(argv)
    .scriptName("gridlet")
    .usage(
      "$0 <command> [options]\n\nPeer-to-peer energy trading: meter agents, aggregators, consortium ledger.",
    )
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
  skipHelpCache(parser);
  try {
    for (const c of await commandsFor(argv)) parser = parser.command(c);
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UsageError || exitCodeFor(e) === EXIT_USAGE) {
      process.stderr.write(`gridlet: ${e instanceof UsageError ? e.message : describeFatal(e)}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`gridlet: ${describeFatal(e)}\n`);
    if (process.env.GRIDLET_DEBUG && e instanceof Error && !(e instanceof GridletError)) {
      process.stderr.write(`${e.stack}\n`);
    }
    return EXIT_RUNTIME;
  }
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

installFatalHandlers("gridlet");
// the arguments after node and this script (yargs/helpers' hideBin, which would load yargs' help modules)
main(process.argv.slice(2)).then(
  (code) => {
    // A command that failed while starting (a port in use, a store held by another process) may have
    // opened sockets or timers already: exit now rather than hang on them.
    if (code !== 0) process.exit(code);
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`gridlet: ${describeError(e)}\n`);
    process.exitCode = EXIT_RUNTIME;
  },
);
