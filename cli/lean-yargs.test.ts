import assert from "node:assert/strict";
import { test } from "node:test";
import stockYargs from "yargs";
import { caCommand } from "./commands/ca.js";
import { ledgerCommand } from "./commands/ledger.js";
import { loadYargs, type Yargs, yargsIsLean } from "./lean-yargs.js";

/** What a parser prints (help on stdout through console.log) and the failure message it gives. */
async function run(yargs: Yargs, argv: string[]): Promise<{ printed: string; failure: string }> {
  let printed = "";
  let failure = "";
  const log = console.log;
  console.log = (...xs: unknown[]) => {
    printed += `${xs.join(" ")}\n`;
  };
  try {
    await yargs(argv)
      .scriptName("gridlet")
      .command(ledgerCommand)
      .command(caCommand)
      .demandCommand(1, "name a command")
      .strict()
      .recommendCommands()
      .wrap(100)
      .exitProcess(false)
      .fail((msg) => {
        failure = msg;
      })
      .parseAsync()
      .catch(() => {});
  } finally {
    console.log = log;
  }
  return { printed, failure };
}

test("the lean yargs is in use, and prints the same help and errors as the stock one", async () => {
  assert.equal(yargsIsLean, true, "the factory is where this yargs version keeps it");
  const lean = await loadYargs();
  assert.notEqual(lean, stockYargs);
  for (const argv of [
    ["--help"],
    ["ledger", "--help"],
    ["ca", "issue", "--help"],
    ["ledger", "bogus"],
    ["ledgr"],
    [],
  ]) {
    const ours = await run(lean, argv);
    const theirs = await run(stockYargs, argv);
    assert.deepEqual(ours, theirs, `gridlet ${argv.join(" ")}`);
    assert.ok(ours.printed.length > 0 || ours.failure.length > 0, `gridlet ${argv.join(" ")} says something`);
  }
  const help = (await run(lean, ["ca", "issue", "--help"])).printed;
  assert.match(help, /--role/, "option names rendered by cliui");
});
