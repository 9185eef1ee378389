import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { agentsOfEvent, type EventSubjects, type LedgerEvent } from "./events.js";

const subjects: EventSubjects = {
  walletOwner: (w) => ({ "w-ann": "ann", "w-bank": "eag1" })[w],
  loanBorrower: (id) => (id === "L1" ? "bob" : undefined),
};

describe("agentsOfEvent", () => {
  it("names the agents an event names, and through the state the wallet's owner and the loan's borrower", () => {
    const cases: [LedgerEvent, string[]][] = [
      [{ type: "wallet-registered", agent: "ann", wallet: "w-ann" }, ["ann"]],
      [{ type: "allocated", wallet: "w-ann", amountMc: 1 }, ["ann"]],
      [{ type: "minted", wallet: "w-bank", amountMc: 1, reason: "funds" }, ["eag1"]],
      [{ type: "minted", wallet: "w-gone", amountMc: 1, reason: "funds" }, []],
      [
        {
          type: "matched",
          tradeId: "t1",
          interval: 3,
          buyer: "ann",
          seller: "sam",
          buyOrder: "o1",
          sellOrder: "o2",
          energyWh: 1,
          priceMcPerKwh: 1,
          paymentMc: 1,
          depositMc: 0,
        },
        ["ann", "sam"],
      ],
      [{ type: "trade-disputed", tradeId: "t1", by: "sam" }, ["sam"]],
      [
        {
          type: "reward-paid",
          period: 1,
          aggregator: "eag1",
          agent: "ann",
          wallet: "w-ann",
          deliveredWh: 5,
          amountMc: 5,
        },
        ["ann", "ann"],
      ],
      [{ type: "credit.granted", loanId: "L1", sharedWallet: "cb00", amount: 5 }, ["bob"]],
      [{ type: "credit.expired", loanId: "L2" }, []],
      [{ type: "credit.blacklisted", loanId: "L2", borrower: "cy" }, ["cy"]],
      [{ type: "identity-registered", agent: "dee", home: "eag1" }, ["dee"]],
      [{ type: "order-cancelled", orderId: "o1" }, []],
      [{ type: "revocations-installed", version: 2 }, []],
    ];
    for (const [e, agents] of cases) assert.deepEqual(agentsOfEvent(e, subjects), agents, e.type);
  });

  it("without the state, only the agents the event names itself", () => {
    assert.deepEqual(agentsOfEvent({ type: "allocated", wallet: "w-ann", amountMc: 1 }), []);
    assert.deepEqual(agentsOfEvent({ type: "credit.repaid", loanId: "L1", due: 3, late: false }), []);
    assert.deepEqual(agentsOfEvent({ type: "credit.blacklisted", loanId: "L1", borrower: "bob" }), ["bob"]);
  });
});
