/**
 * Exact integer arithmetic for money and energy. Every product of two amounts goes through here so
 * that no replica ever sees a rounded float: a * b / c is floored exactly, falling back to BigInt when
 * the product leaves the safe-integer range.
 */
export function mulDivFloor(a: number, b: number, c: number): number {
  if (c <= 0) throw new RangeError(`mulDivFloor: divisor ${c} must be positive`);
  const p = a * b;
  if (Number.isSafeInteger(p)) {
    // the float quotient can be off by one near integer boundaries; the remainder check corrects it
    let q = Math.floor(p / c);
    const r = p - q * c;
    if (r < 0) q -= 1;
    else if (r >= c) q += 1;
    return q;
  }
  const big = (BigInt(a) * BigInt(b)) / BigInt(c);
  const q = Number(big);
  if (!Number.isSafeInteger(q)) throw new RangeError("mulDivFloor: result outside the safe-integer range");
  // BigInt division truncates towards zero; amounts here are never negative
  return q;
}

/** Cost in milli-coins of `energyWh` at `priceMcPerKwh`, floored: the buyer is never charged a fraction. */
export function costMc(energyWh: number, priceMcPerKwh: number): number {
  return mulDivFloor(energyWh, priceMcPerKwh, 1000);
}

/** A share in basis points (1/10 000), floored. */
export function bpsOf(amount: number, bps: number): number {
  return mulDivFloor(amount, bps, 10_000);
}

export const PPM = 1_000_000;

/** The value under `key`, created by `make` on first use. */
export function getOrInsert<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
