import { type CreditConfig, creditConfigSchema } from "../../aggregator/credit/config.js";
import { applyCreditTx, type CreditEnv, type CreditResult } from "../../aggregator/credit/handlers.js";
import type { CreditAccountsPort, CreditTxContext, IncomeRecord } from "../../aggregator/credit/ports.js";
import { type BankKeys, CreditBankService } from "../../aggregator/credit/service.js";
import { type CreditState, createCreditState } from "../../aggregator/credit/state.js";
import { toHex } from "../../protocol/bytes.js";
import { signPayment } from "../../protocol/credit-token.js";
import { newBoxKeyPair } from "../../protocol/crypto/box.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { sha256 } from "../../protocol/hash.js";
import type { CreditPayment, TokenRequest } from "../../protocol/messages/credit.js";

/**
 * A small in-memory stand-in for the accounts state machine, implementing only the credit bank's
 * port, plus a bank, a borrower and a seller: the credit bank's test kit (tests and examples only).
 */
export class MemoryAccounts implements CreditAccountsPort {
  readonly wallets = new Map<string, { owner: string; balance: number }>();
  readonly incomes = new Map<string, IncomeRecord[]>();

  add(wallet: string, owner: string, balance: number): void {
    this.wallets.set(wallet, { owner, balance });
  }
  balance(wallet: string): number {
    return this.wallets.get(wallet)?.balance ?? 0;
  }
  ownerOf(wallet: string): string | undefined {
    return this.wallets.get(wallet)?.owner;
  }
  openWallet(wallet: string, owner: string): void {
    if (this.wallets.has(wallet)) throw new Error(`wallet ${wallet} exists`);
    this.wallets.set(wallet, { owner, balance: 0 });
  }
  transfer(from: string, to: string, amountMc: number): void {
    const a = this.wallets.get(from);
    const b = this.wallets.get(to);
    if (a === undefined || b === undefined || a.balance < amountMc || !Number.isSafeInteger(amountMc)) {
      throw new Error(`bad transfer ${from} → ${to} of ${amountMc}`);
    }
    a.balance -= amountMc;
    b.balance += amountMc;
  }
  incomeSince(owner: string, sinceMs: number): readonly IncomeRecord[] {
    return (this.incomes.get(owner) ?? []).filter((r) => r.time >= sinceMs);
  }
  total(): number {
    let s = 0;
    for (const w of this.wallets.values()) s += w.balance;
    return s;
  }
}

/** Deterministic bytes for keys and nonces. */
export function seededRandom(label: string): (n: number) => Uint8Array {
  let i = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32)
      out.set(sha256(`${label}/${i++}`).subarray(0, Math.min(32, n - off)), off);
    return out;
  };
}

export const T0 = 1_700_000_000_000;
export const DAY = 86_400_000;

export interface World {
  config: CreditConfig;
  accounts: MemoryAccounts;
  blacklist: Set<string>;
  state: CreditState;
  env: CreditEnv;
  bankKeys: BankKeys;
  bank: CreditBankService;
  borrowerBox: ReturnType<typeof newBoxKeyPair>;
  request: TokenRequest;
  apply(type: string, body: unknown, time: number, sender: string): CreditResult;
}

export function makeWorld(overrides: Record<string, unknown> = {}): World {
  const config = creditConfigSchema.parse(overrides);
  const accounts = new MemoryAccounts();
  accounts.add("gw-bank", "bank1", 1_000_000_000);
  accounts.add("gw-alice", "alice", 1_000_000);
  accounts.add("gw-seller", "sam", 0);
  accounts.incomes.set("alice", [
    { time: T0 - 1 * DAY, amountMc: 500 },
    { time: T0 - 9 * DAY, amountMc: 700 },
  ]);
  const blacklist = new Set<string>();
  const bankRandom = seededRandom("bank");
  const bankSeed = bankRandom(32);
  const bankKeys: BankKeys = { id: "bank1", seed: bankSeed, box: newBoxKeyPair(bankRandom) };
  const state = createCreditState({
    bank1: { publicKey: toHex(defaultEd25519.publicKey(bankSeed)), wallet: "gw-bank" },
  });
  const borrowerBox = newBoxKeyPair(seededRandom("alice"));
  const env: CreditEnv = {
    config,
    ports: { accounts, blacklist: { has: (o) => blacklist.has(o), add: (o) => void blacklist.add(o) } },
  };
  const request: TokenRequest = {
    bank: "bank1",
    cert: "serial-alice-1",
    wallets: ["gw-alice"],
    credit: config.initialCredit,
    amount: 50_000,
    boxKey: toHex(borrowerBox.publicKey),
    demand: { qMinWh: 1_000_000, priceMcPerKwh: 1000 },
  };
  let height = 0;
  return {
    config,
    accounts,
    blacklist,
    state,
    env,
    bankKeys,
    bank: new CreditBankService(bankKeys, seededRandom("bank-service")),
    borrowerBox,
    request,
    apply(type, body, time, sender) {
      const ctx: CreditTxContext = { time, height: height++, sender };
      return applyCreditTx(state, type, body, ctx, env);
    },
  };
}

export function pay(
  walletSeed: Uint8Array,
  loanId: string,
  paymentId: string,
  amount: number,
  ts: number,
  sellerWallet = "gw-seller",
): CreditPayment {
  return signPayment({ loanId, paymentId, sellerWallet, amount, ts }, walletSeed);
}
