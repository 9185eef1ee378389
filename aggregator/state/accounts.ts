import { z } from "#zod";
import { registerWalletBodySchema } from "../../protocol/messages/trading.js";
import { initialReputation } from "../reputation/reputation.js";
import { reject } from "./errors.js";
import { defineHandler, type TradingModule } from "./handler.js";
import { getAgent, getWallet, mint } from "./ledger.js";

/** The account pool: wallet pseudonyms, initial allocation and mint (seed 000 §III). */

export const allocateBodySchema = z.object({ wallet: z.string().min(1) }).strict();
export const mintBodySchema = z
  .object({
    wallet: z.string().min(1),
    amountMc: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    reason: z.string().min(1).max(200),
  })
  .strict();

export const accountsModule: TradingModule = {
  name: "accounts",
  handlers: {
    "register-wallet": defineHandler({
      origin: "agent",
      schema: registerWalletBodySchema,
      apply(state, tx, ctx) {
        const { wallet } = tx.body;
        if (state.wallets.has(wallet))
          reject("WALLET_TAKEN", `wallet ${wallet} is already registered`, { wallet });
        let agent = state.agents.get(tx.sender);
        if (!agent) {
          agent = {
            id: tx.sender,
            home: ctx.proposer,
            wallets: [],
            allocated: false,
            rep: initialReputation(state.params.rep),
            openOrders: [],
            income: [],
          };
          state.agents.set(agent.id, agent);
        }
        agent.wallets.push(wallet);
        state.wallets.set(wallet, { address: wallet, owner: tx.sender, balance: 0, frozen: 0 });
        return [{ type: "wallet-registered", agent: tx.sender, wallet }];
      },
    }),
    // seed 000: every node starts with the same allocation, once
    allocate: defineHandler({
      origin: "authority",
      schema: allocateBodySchema,
      apply(state, tx) {
        const w = getWallet(state, tx.body.wallet);
        const agent = getAgent(state, w.owner);
        if (agent.allocated) reject("ALREADY_ALLOCATED", `agent ${agent.id} already received its allocation`);
        agent.allocated = true;
        mint(state, w, state.params.initialAllocationMc);
        return [{ type: "allocated", wallet: w.address, amountMc: state.params.initialAllocationMc }];
      },
    }),
    mint: defineHandler({
      origin: "authority",
      schema: mintBodySchema,
      apply(state, tx) {
        const w = getWallet(state, tx.body.wallet);
        mint(state, w, tx.body.amountMc);
        return [{ type: "minted", wallet: w.address, amountMc: tx.body.amountMc, reason: tx.body.reason }];
      },
    }),
  },
};
