import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const aggregatorCommand: CommandModule = {
  command: "aggregator",
  describe: "(aggregator: not implemented yet)",
  builder: (y) => y.example("$0 aggregator --help", "show the options of aggregator"),
  handler: () => notYetImplemented("gridlet aggregator"),
};
