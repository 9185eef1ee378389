import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const caCommand: CommandModule = {
  command: "ca",
  describe: "(ca: being written)",
  builder: (y) => y,
  handler: () => notYetImplemented("gridlet ca"),
};
