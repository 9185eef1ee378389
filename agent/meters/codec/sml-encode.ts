/**
 * Builds SML files for the emitter and for tests: an OpenResponse, a GetListResponse with the meter's
 * values and a CloseResponse, each message with its own CRC-16/X-25 as SML 1.04 § 7.1 requires.
 */
import { crc16X25 } from "./crc.js";
import { OBIS_EXPORT, OBIS_IMPORT, OBIS_POWER, type SmlNode, UNIT_W, UNIT_WH } from "./sml.js";
import { encodeSmlTransport } from "./sml-transport.js";

function tl(type: number, len: number): number[] {
  // One TL byte holds lengths up to 15; longer ones continue in a second byte (bit 7 = more follows),
  // and for everything but lists the length then counts that second TL byte too.
  if (len < 16) return [(type << 4) | len];
  const total = type === 7 ? len : len + 1;
  return [0x80 | (type << 4) | ((total >> 4) & 0x0f), total & 0x0f];
}

function intBytes(v: bigint, n: number): number[] {
  const out: number[] = [];
  for (let k = n - 1; k >= 0; k--) out.push(Number((v >> BigInt(8 * k)) & 0xffn));
  return out;
}

export function encodeNode(n: SmlNode): number[] {
  switch (n.t) {
    case "end":
      return [0x00];
    case "octets":
      return [...tl(0, n.v.length + 1), ...n.v];
    case "bool":
      return [0x42, n.v ? 1 : 0];
    case "int":
    case "uint": {
      const n8 = 8;
      return [...tl(n.t === "int" ? 5 : 6, n8 + 1), ...intBytes(n.v, n8)];
    }
    case "list":
      return [...tl(7, n.v.length), ...n.v.flatMap(encodeNode)];
  }
}

const oct = (hex: string): SmlNode => ({ t: "octets", v: Uint8Array.from(Buffer.from(hex, "hex")) });
const u = (v: number | bigint): SmlNode => ({ t: "uint", v: BigInt(v) });
const i = (v: number | bigint): SmlNode => ({ t: "int", v: BigInt(v) });
const absent: SmlNode = { t: "octets", v: new Uint8Array(0) };

function message(txId: string, tag: number, body: SmlNode): number[] {
  // The message CRC covers the message from its list TL byte up to the CRC field.
  const head = [...tl(7, 6), ...encodeNode(oct(txId)), ...encodeNode(u(0)), ...encodeNode(u(0))];
  const withBody = [...head, ...encodeNode({ t: "list", v: [u(tag), body] })];
  const crc = crc16X25(Uint8Array.from(withBody));
  return [...withBody, 0x63, crc >> 8, crc & 0xff, 0x00];
}

export interface SmlSample {
  importWh: number;
  exportWh: number;
  powerW: number;
  serverId?: string;
  seq: number;
}

function entry(obis: string, unit: number, scaler: number, value: SmlNode): SmlNode {
  return { t: "list", v: [oct(obis), absent, absent, u(unit), i(scaler), value, absent] };
}

/** Payload (before transport framing) of one reading: energy in 0.1 Wh steps as Iskra and EMH send. */
export function encodeSmlPayload(s: SmlSample): Uint8Array {
  const server = s.serverId ?? "0a01475249444c4554";
  const tx = (k: number) => ((s.seq * 3 + k) >>> 0).toString(16).padStart(8, "0");
  const open = { t: "list", v: [absent, absent, oct(tx(9)), oct(server), absent, absent] } as SmlNode;
  const list: SmlNode = {
    t: "list",
    v: [
      absent,
      oct(server),
      absent,
      absent,
      {
        t: "list",
        v: [
          entry(OBIS_IMPORT, UNIT_WH, -1, u(Math.round(s.importWh * 10))),
          entry(OBIS_EXPORT, UNIT_WH, -1, u(Math.round(s.exportWh * 10))),
          entry(OBIS_POWER, UNIT_W, 0, i(Math.round(s.powerW))),
        ],
      },
      absent,
      absent,
    ],
  };
  const close: SmlNode = { t: "list", v: [absent] };
  return Uint8Array.from([
    ...message(tx(0), 0x0101, open),
    ...message(tx(1), 0x0701, list),
    ...message(tx(2), 0x0201, close),
  ]);
}

export function encodeSmlFile(s: SmlSample): Uint8Array {
  return encodeSmlTransport(encodeSmlPayload(s));
}
