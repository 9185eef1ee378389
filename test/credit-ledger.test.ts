import assert from "node:assert/strict";
import { test } from "node:test";
import { creditConfigSchema } from "../aggregator/credit/config.js";
import { CREDIT_MODULE, creditModule } from "../aggregator/credit/module.js";
import type { IncomeRecord } from "../aggregator/credit/ports.js";
import { CreditBankService } from "../aggregator/credit/service.js";
import type { CreditState } from "../aggregator/credit/state.js";
import type { Tx } from "../aggregator/state/handler.js";
import { createTradingCore, restoreTradingCore } from "../aggregator/state/trading.js";
import { orderBody, txs } from "../aggregator/state/txs.js";
import { pay, seededRandom } from "../bench/harness/credit-world.js";
import { toHex } from "../protocol/bytes.js";
import { openWalletKey } from "../protocol/credit-token.js";
import { newBoxKeyPair } from "../protocol/crypto/box.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import type { TokenRequest } from "../protocol/messages/credit.js";
import { eventOf, LedgerDriver } from "./kits/ledger-driver.js";

const DAY = 86_400_000;
const BANK = "bank1";

/**
 * The credit bank plugged into the real trading state machine: its transactions go through the
 * trading core's dispatch, move coins in the trading wallets, and its blacklist blocks orders in the
 * real market.
 */
function world() {
  const random = seededRandom("ledger-bank");
  const bankSeed = random(32);
  const bankKeys = { id: BANK, seed: bankSeed, box: newBoxKeyPair(random) };
  const sales = new Map<string, IncomeRecord[]>();
  const config = creditConfigSchema.parse({});
  const module = creditModule({
    config,
    banks: { [BANK]: { publicKey: toHex(defaultEd25519.publicKey(bankSeed)), wallet: "w-bank1-0001" } },
    incomeSince: (_state, owner, since) => (sales.get(owner) ?? []).filter((r) => r.time >= since),
  });
  const d = new LedgerDriver(createTradingCore({ authorities: [BANK] }, [module]), BANK);
  d.time = 1_700_000_000_000;
  d.agent(BANK);
  d.ok(txs.mint(d.nextId(), BANK, "w-bank1-0001", 5_000_000));
  const alice = d.agent("alice");
  d.agent("sam");
  sales.set("alice", [
    { time: d.time - DAY, amountMc: 400 },
    { time: d.time - 10 * DAY, amountMc: 400 },
  ]);
  const box = newBoxKeyPair(seededRandom("ledger-alice"));
  const request: TokenRequest = {
    bank: BANK,
    cert: "alice-cert",
    wallets: [alice],
    credit: config.initialCredit,
    amount: 8_000,
    boxKey: toHex(box.publicKey),
    demand: { qMinWh: 1_000_000, priceMcPerKwh: 1000 },
  };
  const bank = new CreditBankService(bankKeys, seededRandom("ledger-service"));
  const credit = () => d.core.state.ext.get(CREDIT_MODULE) as CreditState;
  const tx = (type: string, sender: string, body: unknown): Tx => ({
    id: d.nextId(type),
    type,
    sender,
    body,
  });
  return { d, module, alice, box, request, bank, bankKeys, credit, tx };
}

function supply(d: LedgerDriver<string>): number {
  let s = 0;
  for (const w of d.core.state.wallets.values()) s += w.balance;
  return s;
}

test("through the trading core: grant, pay a seller, repay; coins conserved; snapshot restores the hash", () => {
  const { d, module, alice, box, request, bank, bankKeys, credit, tx } = world();
  const total = supply(d);
  const offered = d.ok(tx("credit.request", "alice", request));
  const loanId = eventOf(offered, "credit.offered").loanId;
  // the bank's aggregator reacts to the block's events with the grants it owes
  const grants = bank.grantsFor(credit(), offered);
  assert.equal(grants.length, 1);
  const grant = grants[0].tx;
  // only an authority may send a grant
  const r = d.apply(tx("credit.grant", "alice", grant));
  assert.deepEqual([r.ok, !r.ok && r.code], [false, "UNAUTHORIZED"]);
  d.ok(tx("credit.grant", BANK, grant));
  const seed = openWalletKey(grant.keyDelivery, box, {
    loanId,
    sharedWallet: grant.sharedWallet,
    bankBoxKey: bankKeys.box.publicKey,
  });
  assert.equal(d.core.state.wallets.get(grant.sharedWallet)?.balance, 8_000);

  const token = bank.currentToken(credit(), loanId);
  const bill = { seller: "sam", payment: pay(seed, loanId, "p1", 5_000, d.time, "w-sam-0001"), token };
  d.ok(tx("credit.pay", BANK, bank.preparePay(credit(), bill)));
  assert.equal(d.core.state.wallets.get("w-sam-0001")!.balance, 20_000 + 5_000);

  // a refusal from the credit bank keeps its own code through the trading core
  const over = { ...bill, payment: pay(seed, loanId, "p2", 3_001, d.time, "w-sam-0001") };
  const o = d.apply(tx("credit.pay", BANK, { bill: over, tokenSig: token.sig }));
  assert.deepEqual([o.ok, !o.ok && o.code], [false, "OVERSPEND"]);

  d.time += 20 * DAY;
  d.ok(tx("credit.repay", "alice", { loanId, fromWallet: alice }));
  assert.equal(credit().loans[loanId].status, "repaid");
  assert.equal(credit().borrowers.alice.s, 1);
  assert.equal(supply(d), total, "credit moves coins and never creates any");

  const restored = restoreTradingCore(d.core.snapshot(), [module]);
  assert.equal(restored.stateHash(), d.core.stateHash());
});

test("through the trading core: a defaulter is blacklisted and the market refuses its orders", () => {
  const { d, alice, request, bank, credit, tx } = world();
  const loanId = eventOf(d.ok(tx("credit.request", "alice", request)), "credit.offered").loanId;
  d.ok(tx("credit.grant", BANK, bank.prepareGrant(credit(), loanId).tx));
  const interval = () => Math.floor(d.time / d.params.intervalMs) + 2;
  d.ok(txs.placeOrder(d.nextId(), "alice", orderBody(alice, "buy", interval(), 100, 300)));

  const loan = credit().loans[loanId];
  d.time = loan.defaultAt + 1;
  const events = d.ok(tx("credit.sweep", BANK, {}));
  assert.deepEqual(
    events.map((e) => e.type),
    ["credit.late", "credit.blacklisted"],
  );
  assert.ok(d.core.state.blacklist.has("alice"));
  const order = d.apply(txs.placeOrder(d.nextId(), "alice", orderBody(alice, "buy", interval(), 100, 300)));
  assert.deepEqual([order.ok, !order.ok && order.code], [false, "BLACKLISTED"]);
  const again = d.apply(tx("credit.request", "alice", request));
  assert.deepEqual([again.ok, !again.ok && again.code], [false, "BLACKLISTED"]);
});
