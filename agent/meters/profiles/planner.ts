/**
 * Groups the registers a profile needs into as few reads as possible: registers with the same function
 * code whose gap is at most `maxGap` go into one block of at most `maxRegisters`. Reading a few unused
 * registers costs 2 bytes each on the wire; a separate request costs 8 + 5 bytes and two frame gaps.
 */
import { registerCount } from "../codec/registers.js";
import type { MeterProfile, QuantityName, QuantitySpec } from "./schema.js";

export interface PlannedItem {
  name: QuantityName;
  spec: QuantitySpec;
  /** offset of the value's first register within its block */
  offset: number;
}

export interface ReadBlock {
  fc: 3 | 4;
  address: number;
  count: number;
  items: PlannedItem[];
  /** the block holds only quantities the meter may refuse */
  mayBeAbsent: boolean;
}

export interface PlanLimits {
  maxGap: number;
  maxRegisters: number;
}

export function planReads(
  quantities: Partial<Record<QuantityName, QuantitySpec>>,
  limits: PlanLimits,
): ReadBlock[] {
  const entries = (Object.entries(quantities) as [QuantityName, QuantitySpec | undefined][])
    .filter((e): e is [QuantityName, QuantitySpec] => e[1] !== undefined)
    .sort((a, b) => a[1].fc - b[1].fc || a[1].address - b[1].address);
  const blocks: ReadBlock[] = [];
  let cur: ReadBlock | undefined;
  for (const [name, spec] of entries) {
    const len = registerCount(spec.type);
    const end = spec.address + len;
    const fits =
      cur !== undefined &&
      !spec.mayBeAbsent &&
      !cur.mayBeAbsent &&
      cur.fc === spec.fc &&
      spec.address - (cur.address + cur.count) <= limits.maxGap &&
      Math.max(end, cur.address + cur.count) - cur.address <= limits.maxRegisters;
    if (cur !== undefined && fits) {
      cur.count = Math.max(end, cur.address + cur.count) - cur.address;
      cur.items.push({ name, spec, offset: spec.address - cur.address });
    } else {
      cur = {
        fc: spec.fc,
        address: spec.address,
        count: len,
        items: [{ name, spec, offset: 0 }],
        mayBeAbsent: spec.mayBeAbsent,
      };
      blocks.push(cur);
    }
  }
  return blocks;
}

export function planProfile(p: MeterProfile): ReadBlock[] {
  return planReads(p.quantities, { maxGap: p.maxGap, maxRegisters: p.maxBlockRegisters });
}
