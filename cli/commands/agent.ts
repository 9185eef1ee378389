import type { CommandModule } from "yargs";
import { notYetImplemented } from "../exit.js";

export const agentCommand: CommandModule = {
  command: "agent",
  describe: "(agent: not implemented yet)",
  builder: (y) => y.example("$0 agent --help", "show the options of agent"),
  handler: () => notYetImplemented("gridlet agent"),
};
