import { reject } from "./errors.js";
import type { Agent, TradingState, Wallet } from "./types.js";

/**
 * Coin movements. Every function here moves an integer amount from one place to another, so the sum of
 * balances changes only in `mint`. A violated precondition is a bug in a handler (which must validate
 * before mutating), so it throws a plain Error rather than a rejection.
 */

export function getAgent(state: TradingState, id: string): Agent {
  const a = state.agents.get(id);
  if (!a) reject("UNKNOWN_AGENT", `agent ${id} has no registered wallet`, { agent: id });
  return a;
}

export function getWallet(state: TradingState, address: string): Wallet {
  const w = state.wallets.get(address);
  if (!w) reject("UNKNOWN_WALLET", `wallet ${address} is not registered`, { wallet: address });
  return w;
}

export function ownedWallet(state: TradingState, address: string, agent: string): Wallet {
  const w = getWallet(state, address);
  if (w.owner !== agent)
    reject("NOT_WALLET_OWNER", `wallet ${address} does not belong to ${agent}`, { wallet: address });
  return w;
}

export function available(w: Wallet): number {
  return w.balance - w.frozen;
}

export function requireAvailable(w: Wallet, amount: number): void {
  if (available(w) < amount)
    reject("INSUFFICIENT_FUNDS", `wallet ${w.address} has ${available(w)} mc available, needs ${amount}`, {
      wallet: w.address,
      available: available(w),
      needed: amount,
    });
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`ledger invariant broken: ${what}`);
}

export function freeze(w: Wallet, amount: number): void {
  check(amount >= 0 && available(w) >= amount, `freeze ${amount} on ${w.address}`);
  w.frozen += amount;
}

export function unfreeze(w: Wallet, amount: number): void {
  check(amount >= 0 && w.frozen >= amount, `unfreeze ${amount} on ${w.address}`);
  w.frozen -= amount;
}

/** Moves frozen coins of `from` into the balance of `to`. */
export function payFrozen(from: Wallet, to: Wallet, amount: number): void {
  check(amount >= 0 && from.frozen >= amount, `pay ${amount} frozen from ${from.address}`);
  from.frozen -= amount;
  from.balance -= amount;
  to.balance += amount;
}

/** The only way coins come into existence: initial allocation, mint and proof-of-flow rewards. */
export function mint(state: TradingState, w: Wallet, amount: number): void {
  check(Number.isSafeInteger(amount) && amount >= 0, `mint ${amount}`);
  check(Number.isSafeInteger(state.supply + amount), "supply overflow");
  w.balance += amount;
  state.supply += amount;
}
