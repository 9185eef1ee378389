import type { TradingModule } from "../state/handler.js";
import { clearIntervalTx } from "./clear.js";
import { cancelOrder, placeOrder } from "./orders.js";

export const marketModule: TradingModule = {
  name: "market",
  handlers: {
    "place-order": placeOrder,
    "cancel-order": cancelOrder,
    "clear-interval": clearIntervalTx,
  },
};
