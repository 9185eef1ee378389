import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const demoCommand: CommandModule = {
  command: "demo",
  describe: "(demo: not implemented yet)",
  builder: (y) => y.example("$0 demo --help", "show the options of demo"),
  handler: () => notYetImplemented("gridlet demo"),
};
