import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const recordCommand: CommandModule = {
  command: "record",
  describe: "(record: not implemented yet)",
  builder: (y) => y.example("$0 record --help", "show the options of record"),
  handler: () => notYetImplemented("gridlet record"),
};
