/**
 * SML message layer, decoded just far enough to read a meter: every list of seven whose first element
 * is a six-byte OBIS code is an SML_ListEntry (objName, status, valTime, unit, scaler, value,
 * signature), wherever it sits in the GetList response. Type-length fields per SML 1.04 § 6.3.
 */
import { MeterError } from "../errors.js";

export type SmlNode =
  | { t: "octets"; v: Uint8Array }
  | { t: "int"; v: bigint }
  | { t: "uint"; v: bigint }
  | { t: "bool"; v: boolean }
  | { t: "list"; v: SmlNode[] }
  | { t: "end" };

const MAX_DEPTH = 16;

class Reader {
  i = 0;
  nodes = 0;
  constructor(readonly b: Uint8Array) {}

  fail(msg: string): never {
    throw new MeterError("FRAME_INVALID", `SML: ${msg} at byte ${this.i}`);
  }

  node(depth: number): SmlNode {
    if (depth > MAX_DEPTH) this.fail("lists nested too deep");
    if (++this.nodes > 10000) this.fail("too many elements");
    const start = this.i;
    if (this.i >= this.b.length) this.fail("unexpected end");
    let tl = this.b[this.i++];
    if (tl === 0x00) return { t: "end" };
    const type = (tl >> 4) & 0x07;
    let len = tl & 0x0f;
    let tlBytes = 1;
    while (tl & 0x80) {
      if (this.i >= this.b.length) this.fail("unexpected end in length");
      tl = this.b[this.i++];
      if (tlBytes > 3) this.fail("length field too long");
      len = (len << 4) | (tl & 0x0f);
      tlBytes++;
    }
    if (type === 0x7) {
      const items: SmlNode[] = [];
      for (let k = 0; k < len; k++) items.push(this.node(depth + 1));
      return { t: "list", v: items };
    }
    const dataLen = len - tlBytes;
    if (dataLen < 0) this.fail("length shorter than its own field");
    if (this.i + dataLen > this.b.length) this.fail("value runs past the end");
    const data = this.b.subarray(this.i, this.i + dataLen);
    this.i += dataLen;
    switch (type) {
      case 0x0:
        return { t: "octets", v: data };
      case 0x4:
        if (dataLen !== 1) this.fail("boolean of wrong length");
        return { t: "bool", v: data[0] !== 0 };
      case 0x5:
      case 0x6: {
        if (dataLen < 1 || dataLen > 8) this.fail("integer of wrong length");
        let v = 0n;
        for (const x of data) v = (v << 8n) | BigInt(x);
        if (type === 0x5 && data[0] & 0x80) v -= 1n << BigInt(8 * dataLen);
        return { t: type === 0x5 ? "int" : "uint", v };
      }
      default:
        this.i = start;
        return this.fail(`unknown type ${type}`);
    }
  }
}

/** Decodes every top-level element of an SML file payload (messages and end-of-message markers). */
export function decodeSmlNodes(payload: Uint8Array): SmlNode[] {
  const r = new Reader(payload);
  const out: SmlNode[] = [];
  while (r.i < payload.length) out.push(r.node(0));
  return out;
}

export interface SmlEntry {
  obis: string;
  unit?: number;
  scaler: number;
  value: bigint;
}

/** OBIS codes (hex of the 6 bytes) of the values the agent reads. */
export const OBIS_IMPORT = "0100010800ff";
export const OBIS_EXPORT = "0100020800ff";
export const OBIS_POWER = "0100100700ff";
/** DLMS unit codes: 30 = Wh, 27 = W */
export const UNIT_WH = 30;
export const UNIT_W = 27;

export function findEntries(nodes: SmlNode[]): SmlEntry[] {
  const out: SmlEntry[] = [];
  const visit = (n: SmlNode) => {
    if (n.t !== "list") return;
    const [name, , , unit, scaler, value] = n.v;
    if (
      n.v.length === 7 &&
      name.t === "octets" &&
      name.v.length === 6 &&
      (value.t === "int" || value.t === "uint")
    ) {
      out.push({
        obis: Buffer.from(name.v).toString("hex"),
        unit: unit.t === "uint" ? Number(unit.v) : undefined,
        scaler: scaler.t === "int" ? Number(scaler.v) : 0,
        value: value.v,
      });
      return;
    }
    n.v.forEach(visit);
  };
  nodes.forEach(visit);
  return out;
}

export interface SmlValues {
  importWh: number;
  exportWh: number;
  powerW: number;
}

function scaled(e: SmlEntry, unit: number): number {
  if (e.unit !== undefined && e.unit !== unit) {
    throw new MeterError("VALUE_INVALID", `SML ${e.obis} has unit ${e.unit}, expected ${unit}`);
  }
  if (e.scaler < -9 || e.scaler > 9)
    throw new MeterError("VALUE_INVALID", `SML ${e.obis} scaler ${e.scaler} out of range`);
  return Number(e.value) * 10 ** e.scaler;
}

/** Reads import, export and power from one SML file payload; a MeterError if it cannot. Never throws. */
export function parseSmlPayload(payload: Uint8Array): SmlValues | MeterError {
  try {
    const entries = findEntries(decodeSmlNodes(payload));
    const get = (obis: string) => entries.find((e) => e.obis === obis);
    const imp = get(OBIS_IMPORT);
    const pow = get(OBIS_POWER);
    if (!imp) return new MeterError("VALUE_MISSING", "SML file has no 1-0:1.8.0 import counter");
    if (!pow) return new MeterError("VALUE_MISSING", "SML file has no 1-0:16.7.0 power");
    const exp = get(OBIS_EXPORT);
    return {
      importWh: Math.round(scaled(imp, UNIT_WH)),
      exportWh: exp ? Math.round(scaled(exp, UNIT_WH)) : 0,
      powerW: Math.round(scaled(pow, UNIT_W) * 10) / 10,
    };
  } catch (e) {
    if (e instanceof MeterError) return e;
    return new MeterError("FRAME_INVALID", `SML unreadable: ${String(e)}`);
  }
}
