import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const replayCommand: CommandModule = {
  command: "replay",
  describe: "(replay: not implemented yet)",
  builder: (y) => y.example("$0 replay --help", "show the options of replay"),
  handler: () => notYetImplemented("gridlet replay"),
};
