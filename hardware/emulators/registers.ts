/**
 * The register image of an emulated Modbus meter, built from a profile and the meter's state. Addresses
 * between the profile's values read as 0, as on real meters; addresses outside, and quantities the meter
 * is told to refuse (an EM24 set up without export), answer exception 2.
 */
import { encodeRegisters, registerCount } from "../../agent/meters/codec/registers.js";
import type { MeterProfile, QuantityName } from "../../agent/meters/profiles/schema.js";
import type { MeterState } from "./state.js";

export type ReadResult = { registers: number[] } | { exception: number };

export function readImage(
  profile: MeterProfile,
  state: MeterState,
  fc: number,
  address: number,
  count: number,
  refuse: ReadonlySet<QuantityName> = new Set(),
): ReadResult {
  const words = new Map<number, number>();
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const refused: [number, number][] = [];
  for (const [name, spec] of Object.entries(profile.quantities) as [
    QuantityName,
    MeterProfile["quantities"]["powerW"] | undefined,
  ][]) {
    if (!spec || spec.fc !== fc) continue;
    const n = registerCount(spec.type);
    lo = Math.min(lo, spec.address);
    hi = Math.max(hi, spec.address + n);
    if (refuse.has(name)) {
      refused.push([spec.address, spec.address + n]);
      continue;
    }
    const raw = state[name] / spec.scale;
    const value = spec.type === "float32" ? raw : Math.round(raw);
    for (const [k, w] of encodeRegisters(value, spec.type, spec.wordOrder).entries())
      words.set(spec.address + k, w);
  }
  if (address < lo || address + count > hi) return { exception: 2 };
  if (refused.some(([a, b]) => address < b && address + count > a)) return { exception: 2 };
  const out: number[] = [];
  for (let a = address; a < address + count; a++) out.push(words.get(a) ?? 0);
  return { registers: out };
}
