import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { creditConfigSchema } from "../credit/config.js";
import { creditModule } from "../credit/module.js";
import { AUTHORITY_MESSAGES, agentTx } from "../node/envelopes.js";
import { agentLedgerMessages, LEDGER_MESSAGES, ledgerMessage } from "./messages.js";
import { createTradingCore } from "./trading.js";

describe("the ledger's message table", () => {
  const core = createTradingCore({ authorities: ["agg-1"] }, [
    creditModule({ config: creditConfigSchema.parse({}), banks: {}, incomeSince: () => [] }),
  ]);

  it("maps each agent message to an agent transaction of the core, with the core's own body schema", () => {
    for (const [type, m] of agentLedgerMessages()) {
      const rule = core.txRule(m.tx);
      assert.equal(rule?.origin, "agent", `${type} → ${m.tx}`);
      assert.equal(rule.schema, m.body, `${type}: ingest and the core check the same schema`);
    }
    const agentTxTypes = core.txTypes().filter((t) => core.txRule(t)?.origin === "agent");
    assert.deepEqual(
      agentLedgerMessages()
        .map(([, m]) => m.tx)
        .sort(),
      agentTxTypes,
      "no agent transaction without its message",
    );
  });

  it("names the aggregators' envelope types, and nothing else is carried", () => {
    assert.deepEqual([...AUTHORITY_MESSAGES].sort(), ["ca.revocations", "identity.register", "sys"]);
    assert.equal(Object.keys(LEDGER_MESSAGES).length, agentLedgerMessages().length + AUTHORITY_MESSAGES.size);
    assert.equal(ledgerMessage("reading"), undefined);
    assert.equal(ledgerMessage("toString"), undefined, "only the table's own keys");
    assert.equal(agentTx({ type: "sys", from: "agg-1", seq: 1, body: {} }), null);
    assert.deepEqual(agentTx({ type: "order.cancel", from: "ann", seq: 7, body: { orderId: "o" } }), {
      id: "ann:7",
      type: "cancel-order",
      sender: "ann",
      body: { orderId: "o" },
    });
  });
});
