#!/usr/bin/env node
/**
 * The agent's own entry point for the service: `node dist/agent/runtime/main.js --config FILE`, the same
 * as `gridlet agent --config FILE` without loading the whole command line (yargs and every other
 * command's modules are about 30 MB of resident memory a Pi does not need to keep for months).
 * Exit codes as the CLI's: 0 stopped by a signal, 1 runtime failure, 2 usage or configuration error.
 */
import { describeFatal, exitCodeFor, installFatalHandlers } from "../../protocol/exit-codes.js";
import { checkLogEnv } from "../../protocol/log.js";
import { runAgent } from "./run.js";

const USAGE = "usage: node dist/agent/runtime/main.js --config FILE";

function configArg(argv: string[]): string | undefined {
  const i = argv.indexOf("--config");
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith("--config="))?.slice("--config=".length);
}

const path = configArg(process.argv.slice(2));
const badLogSetting = checkLogEnv(process.env);
if (badLogSetting !== undefined) {
  process.stderr.write(`gridlet-agent: ${badLogSetting}\n`);
  process.exitCode = 2;
} else if (path === undefined || path === "") {
  process.stderr.write(`gridlet-agent: ${USAGE}\n`);
  process.exitCode = 2;
} else {
  installFatalHandlers("gridlet-agent");
  runAgent(path).then(
    () => {
      process.exitCode = 0;
    },
    (e: unknown) => {
      process.stderr.write(`gridlet-agent: ${describeFatal(e)}\n`);
      // whatever had started (a meter port, a timer) must not keep a failed start alive
      process.exit(exitCodeFor(e));
    },
  );
}
