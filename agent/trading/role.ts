/**
 * The agent's trading role for the next interval, from its recent net energy (pure).
 */

export type Role = "seller" | "buyer" | "idle";

export interface RoleLimits {
  /** average net export per interval at or above which the agent sells */
  sellAboveWh: number;
  /** average net import per interval at or above which the agent buys */
  buyAboveWh: number;
  maxSellWh: number;
  maxBuyWh: number;
}

export interface RoleChoice {
  role: Role;
  /** energy to offer or bid for; 0 when idle */
  energyWh: number;
  /** average net export per interval (negative: net import) */
  netWh: number;
}

export function chooseRole(
  recent: readonly { importWh: number; exportWh: number }[],
  limits: RoleLimits,
): RoleChoice {
  if (recent.length === 0) return { role: "idle", energyWh: 0, netWh: 0 };
  let net = 0;
  for (const r of recent) net += r.exportWh - r.importWh;
  // floor towards zero so that an offer never exceeds what the meter showed
  const avg = Math.trunc(net / recent.length);
  if (avg >= limits.sellAboveWh && avg > 0)
    return { role: "seller", energyWh: Math.min(avg, limits.maxSellWh), netWh: avg };
  if (-avg >= limits.buyAboveWh && avg < 0)
    return { role: "buyer", energyWh: Math.min(-avg, limits.maxBuyWh), netWh: avg };
  return { role: "idle", energyWh: 0, netWh: avg };
}
