import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const creditCommand: CommandModule = {
  command: "credit",
  describe: "(credit: not implemented yet)",
  builder: (y) => y.example("$0 credit --help", "show the options of credit"),
  handler: () => notYetImplemented("gridlet credit"),
};
