import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const benchCommand: CommandModule = {
  command: "bench",
  describe: "(bench: not implemented yet)",
  builder: (y) => y.example("$0 bench --help", "show the options of bench"),
  handler: () => notYetImplemented("gridlet bench"),
};
