import type { ReplicatedStateMachine } from "../state/replicated.js";
import { KvMachine } from "./kv-machine.js";

/**
 * State machines a ledger can be re-executed on, by the name recorded in the ledger's meta table
 * ("machine"). The aggregator registers the trading machine here once it exists; "kv" is the counter
 * machine of the consensus tests and bench.
 */
const factories = new Map<string, () => ReplicatedStateMachine>([["kv", () => new KvMachine()]]);

export function registerMachine(name: string, make: () => ReplicatedStateMachine): void {
  factories.set(name, make);
}

export function machineFactory(name: string): (() => ReplicatedStateMachine) | undefined {
  return factories.get(name);
}

export function machineNames(): string[] {
  return [...factories.keys()];
}
