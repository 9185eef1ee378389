import { z } from "#zod";

/**
 * What one agent may see about itself: the plain JSON inside an `account.view` sealed box
 * (./downlink.ts). The aggregator builds it from its trading state (aggregator/state/views.ts); the agent
 * parses it with this schema after opening the box, so neither side casts the other's types.
 */
const int = z.number().int();
const mc = int;

export const viewWalletSchema = z
  .object({ address: z.string(), balanceMc: mc, frozenMc: mc, availableMc: mc })
  .strict();

export const viewOrderSchema = z
  .object({
    id: z.string(),
    agent: z.string(),
    wallet: z.string(),
    side: z.enum(["buy", "sell"]),
    interval: int,
    energyWh: int,
    limitPriceMcPerKwh: int,
    reservedMc: mc,
    seq: int,
  })
  .strict();

export const viewTradeSchema = z
  .object({
    id: z.string(),
    interval: int,
    buyOrder: z.string(),
    sellOrder: z.string(),
    buyer: z.string(),
    seller: z.string(),
    buyerWallet: z.string(),
    sellerWallet: z.string(),
    energyWh: int,
    priceMcPerKwh: int,
    paymentMc: mc,
    depositMc: mc,
    xiBuyer: int,
    xiSeller: int,
    status: z.enum(["open", "disputed"]),
    confirmedWh: int.nullable(),
    dispute: z.object({ by: z.string(), claimedWh: int, reason: z.string() }).strict().nullable(),
  })
  .strict();

/** Reputation values are the contract's own reals (docs/TRADING.md); the view is sealed, not signed. */
export const viewReputationSchema = z
  .object({
    activity: z.number(),
    reputation: z.number(),
    active: z.number(),
    beta: z.number(),
    delta: z.number(),
    lastDir: z.union([z.literal(-1), z.literal(0), z.literal(1)]),
    streak: int,
    lastActiveMs: int.nullable(),
  })
  .strict();

export const agentViewSchema = z
  .object({
    agent: z.string().min(1),
    wallets: z.array(viewWalletSchema),
    openOrders: z.array(viewOrderSchema),
    openTrades: z.array(viewTradeSchema),
    reputation: viewReputationSchema,
    blacklisted: z.boolean(),
  })
  .strict();

export type AgentView = z.infer<typeof agentViewSchema>;
