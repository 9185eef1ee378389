import { contractModule } from "../contract/handlers.js";
import { marketModule } from "../market/module.js";
import { rewardsModule } from "../rewards/proof-of-flow.js";
import { accountsModule } from "./accounts.js";
import { type Genesis, TradingCore } from "./core.js";
import type { TradingModule } from "./handler.js";
import { meterModule } from "./meter.js";
import type { StateSnapshot } from "./snapshot.js";

/** The built-in modules of the trading state machine, in registration order. */
export const builtinModules: readonly TradingModule[] = [
  accountsModule,
  meterModule,
  marketModule,
  contractModule,
  rewardsModule,
];

/** A fresh trading ledger; `extra` modules (the credit bank) add their transaction types. */
export function createTradingCore<C extends string = never>(
  genesis: Genesis,
  extra: readonly TradingModule<C>[] = [],
): TradingCore<C> {
  return TradingCore.create<C>(genesis, [...builtinModules, ...extra]);
}

export function restoreTradingCore<C extends string = never>(
  snap: StateSnapshot,
  extra: readonly TradingModule<C>[] = [],
): TradingCore<C> {
  return TradingCore.fromSnapshot<C>(snap, [...builtinModules, ...extra]);
}
