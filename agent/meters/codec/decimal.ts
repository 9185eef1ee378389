import { MeterError } from "../errors.js";

/**
 * Parses a decimal string such as "003432.829" into an integer number of thousandths, without going
 * through a float, so 3432.829 kWh is exactly 3 432 829 Wh.
 */
export function decimalToMilli(s: string): number {
  const m = /^(-?)(\d{1,12})(?:\.(\d{1,3}))?$/.exec(s);
  if (!m) throw new MeterError("VALUE_INVALID", `not a decimal number: "${s.slice(0, 32)}"`);
  const frac = (m[3] ?? "").padEnd(3, "0");
  const v = Number(m[2]) * 1000 + Number(frac);
  return m[1] === "-" ? -v : v;
}
