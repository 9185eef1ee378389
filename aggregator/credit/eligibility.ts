import type { TokenRequest } from "../../protocol/messages/credit.js";
import { type CreditConfig, msOfDays } from "./config.js";
import { CreditError } from "./errors.js";
import type { CreditPorts } from "./ports.js";
import type { BorrowerRecord } from "./state.js";

/**
 * The seed's token-request conditions (§III-1, step 3), each with its own refusal code, checked in a
 * fixed order so that a refusal always names the same first failure:
 * wallets belong to the borrower → not blacklisted → no open loan → credit value ≥ 0 → some wealth →
 * regular income from selling energy.
 */
export function checkEligibility(
  borrower: string,
  req: TokenRequest,
  record: BorrowerRecord,
  config: CreditConfig,
  ports: CreditPorts,
  now: number,
): void {
  for (const w of req.wallets) {
    if (ports.accounts.ownerOf(w) !== borrower) {
      throw new CreditError("NOT_WALLET_OWNER", `wallet "${w}" does not belong to the borrower`, {
        wallet: w,
      });
    }
  }
  if (ports.blacklist.has(borrower)) {
    throw new CreditError("BLACKLISTED", "the borrower is blacklisted", { borrower });
  }
  if (record.activeLoan !== null) {
    throw new CreditError("ACTIVE_LOAN", "the borrower already has an open loan", {
      loan: record.activeLoan,
    });
  }
  if (record.credit < 0) {
    throw new CreditError("NEGATIVE_CREDIT", `credit value ${record.credit} is negative`, {
      credit: record.credit,
    });
  }
  const wealth = req.wallets.reduce((sum, w) => sum + ports.accounts.balance(w), 0);
  const min = Math.max(config.eligibility.minWealthMc, 1);
  if (wealth < min) {
    throw new CreditError("NO_WEALTH", `wealth ${wealth} mc is below the ${min} mc required`, { wealth });
  }
  const periods = incomePeriods(borrower, config, ports, now);
  if (periods < config.eligibility.minIncomePeriods) {
    throw new CreditError(
      "NO_REGULAR_INCOME",
      `energy-sale income in ${periods} of the last ${config.eligibility.incomePeriods} periods; ` +
        `${config.eligibility.minIncomePeriods} needed`,
      { periods },
    );
  }
}

/** How many of the last `incomePeriods` periods (ending now) saw income from selling energy. */
export function incomePeriods(owner: string, config: CreditConfig, ports: CreditPorts, now: number): number {
  const len = msOfDays(config.eligibility.incomePeriodDays);
  const n = config.eligibility.incomePeriods;
  const since = now - n * len;
  const hit = new Set<number>();
  for (const r of ports.accounts.incomeSince(owner, since)) {
    if (r.amountMc <= 0 || r.time < since || r.time > now) continue;
    hit.add(Math.min(Math.floor((now - r.time) / len), n - 1));
  }
  return hit.size;
}
