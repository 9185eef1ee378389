import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const ledgerCommand: CommandModule = {
  command: "ledger",
  describe: "(ledger: not implemented yet)",
  builder: (y) => y.example("$0 ledger --help", "show the options of ledger"),
  handler: () => notYetImplemented("gridlet ledger"),
};
