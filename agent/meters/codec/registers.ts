/**
 * Turns register words into numbers as a profile describes them: type, word order and scale. Pure.
 */
import { MeterError } from "../errors.js";

export type RegisterType = "uint16" | "int16" | "uint32" | "int32" | "float32" | "uint64" | "int64";
/** "high-first": the register at the lower address holds the high word (Eastron, ABB, Janitza). */
export type WordOrder = "high-first" | "low-first";

export function registerCount(type: RegisterType): number {
  switch (type) {
    case "uint16":
    case "int16":
      return 1;
    case "uint32":
    case "int32":
    case "float32":
      return 2;
    case "uint64":
    case "int64":
      return 4;
  }
}

/** Decodes `registerCount(type)` words starting at `offset`; throws VALUE_INVALID for NaN/infinite. */
export function decodeRegisters(
  words: ArrayLike<number>,
  offset: number,
  type: RegisterType,
  order: WordOrder,
): number {
  const n = registerCount(type);
  if (offset < 0 || offset + n > words.length) {
    throw new MeterError("VALUE_MISSING", "register block too short for value", { offset, type });
  }
  const bytes = new Uint8Array(n * 2);
  for (let k = 0; k < n; k++) {
    const w = words[offset + (order === "high-first" ? k : n - 1 - k)];
    bytes[2 * k] = (w >> 8) & 0xff;
    bytes[2 * k + 1] = w & 0xff;
  }
  const dv = new DataView(bytes.buffer);
  let v: number;
  switch (type) {
    case "uint16":
      v = dv.getUint16(0);
      break;
    case "int16":
      v = dv.getInt16(0);
      break;
    case "uint32":
      v = dv.getUint32(0);
      break;
    case "int32":
      v = dv.getInt32(0);
      break;
    case "float32":
      v = dv.getFloat32(0);
      break;
    case "uint64":
      v = Number(dv.getBigUint64(0));
      break;
    case "int64":
      v = Number(dv.getBigInt64(0));
      break;
  }
  if (!Number.isFinite(v))
    throw new MeterError("VALUE_INVALID", "register value is not a finite number", { type });
  return v;
}

/** Inverse of decodeRegisters, for emulators and tests. */
export function encodeRegisters(value: number, type: RegisterType, order: WordOrder): number[] {
  const n = registerCount(type);
  const bytes = new Uint8Array(n * 2);
  const dv = new DataView(bytes.buffer);
  switch (type) {
    case "uint16":
      dv.setUint16(0, value);
      break;
    case "int16":
      dv.setInt16(0, value);
      break;
    case "uint32":
      dv.setUint32(0, value);
      break;
    case "int32":
      dv.setInt32(0, value);
      break;
    case "float32":
      dv.setFloat32(0, value);
      break;
    case "uint64":
      dv.setBigUint64(0, BigInt(Math.trunc(value)));
      break;
    case "int64":
      dv.setBigInt64(0, BigInt(Math.trunc(value)));
      break;
  }
  const words: number[] = [];
  for (let k = 0; k < n; k++) words.push((bytes[2 * k] << 8) | bytes[2 * k + 1]);
  return order === "high-first" ? words : words.reverse();
}
