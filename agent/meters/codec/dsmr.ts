/**
 * DSMR P1 telegrams (P1 companion standard 5.0.2): "/" header, data lines "OBIS(value*unit)", and
 * "!" followed by the CRC-16/ARC of everything from "/" through "!" as four upper-case hex digits.
 * DSMR 4.x lines run at 115200 7E1, DSMR 5 at 115200 8N1; the codec does not care, the port does.
 */
import { MeterError } from "../errors.js";
import { crc16Arc } from "./crc.js";
import { decimalToMilli } from "./decimal.js";

export interface P1Values {
  /** header identification after "/", e.g. "ISK5\2M550T-1012" */
  ident: string;
  /** raw objects: OBIS reduced form ("1-0:1.8.1") to the list of values in parentheses */
  objects: Map<string, string[]>;
  importWh: number;
  exportWh: number;
  powerW: number;
  voltageV?: number;
  currentA?: number;
}

/** Longest telegram accepted; real ones are 1-2 kB, an M-Bus heavy one under 4 kB. */
export const MAX_TELEGRAM = 8192;

const LINE = /^(\d+-\d+:\d+\.\d+\.\d+(?:\.\d+)?)((?:\([^()]*\))+)$/;

/** value "003432.829*kWh" → milli-units, checking the unit. */
function quantity(
  objects: Map<string, string[]>,
  obis: string,
  unit: "kWh" | "kW" | "V" | "A",
): number | undefined {
  const vals = objects.get(obis);
  if (!vals) return undefined;
  const v = vals[vals.length - 1];
  const star = v.indexOf("*");
  if (star < 0 || v.slice(star + 1) !== unit) {
    throw new MeterError("VALUE_INVALID", `${obis} has unit "${v.slice(star + 1)}", expected ${unit}`);
  }
  return decimalToMilli(v.slice(0, star));
}

/**
 * Parses one complete telegram (from "/" to the CRC digits; trailing CR LF optional). Returns the values
 * or a MeterError (CRC_MISMATCH, FRAME_INVALID, VALUE_MISSING, VALUE_INVALID). Never throws.
 */
export function parseTelegram(text: string): P1Values | MeterError {
  try {
    return parseOrThrow(text);
  } catch (e) {
    if (e instanceof MeterError) return e;
    return new MeterError("FRAME_INVALID", `telegram unreadable: ${String(e)}`);
  }
}

function parseOrThrow(text: string): P1Values {
  if (text.length > MAX_TELEGRAM) throw new MeterError("FRAME_TOO_LONG", "telegram longer than 8192 bytes");
  if (text[0] !== "/") throw new MeterError("FRAME_INVALID", 'telegram does not start with "/"');
  const bang = text.indexOf("!");
  if (bang < 0) throw new MeterError("FRAME_INVALID", 'telegram has no "!" end mark');
  const crcText = text.slice(bang + 1, bang + 5);
  if (!/^[0-9A-F]{4}$/.test(crcText)) {
    throw new MeterError(
      "FRAME_INVALID",
      "telegram has no CRC after '!' (DSMR 2/3 without CRC are not accepted)",
    );
  }
  const bytes = Buffer.from(text.slice(0, bang + 1), "latin1");
  const crc = crc16Arc(bytes);
  if (crc !== Number.parseInt(crcText, 16)) {
    throw new MeterError("CRC_MISMATCH", "telegram failed its CRC-16/ARC check", {
      sent: crcText,
      computed: crc.toString(16).toUpperCase().padStart(4, "0"),
    });
  }
  const lines = text.slice(0, bang).split(/\r?\n/);
  const ident = lines[0].slice(1).trim();
  const objects = new Map<string, string[]>();
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    if (line === "") continue;
    const m = LINE.exec(line);
    // Unknown or vendor lines are skipped: the CRC already vouches that this is what the meter sent.
    if (!m) continue;
    objects.set(m[1], m[2].slice(1, -1).split(")("));
  }
  const sum = (a: string, b: string, total: string) => {
    const x = quantity(objects, a, "kWh");
    const y = quantity(objects, b, "kWh");
    if (x !== undefined || y !== undefined) return (x ?? 0) + (y ?? 0);
    return quantity(objects, total, "kWh");
  };
  const importWh = sum("1-0:1.8.1", "1-0:1.8.2", "1-0:1.8.0");
  if (importWh === undefined)
    throw new MeterError("VALUE_MISSING", "telegram has no import counter (1-0:1.8.x)");
  const exportWh = sum("1-0:2.8.1", "1-0:2.8.2", "1-0:2.8.0") ?? 0;
  const pIn = quantity(objects, "1-0:1.7.0", "kW");
  const pOut = quantity(objects, "1-0:2.7.0", "kW");
  if (pIn === undefined && pOut === undefined) {
    throw new MeterError("VALUE_MISSING", "telegram has no power (1-0:1.7.0 / 2.7.0)");
  }
  const out: P1Values = { ident, objects, importWh, exportWh, powerW: (pIn ?? 0) - (pOut ?? 0) };
  const v = quantity(objects, "1-0:32.7.0", "V");
  if (v !== undefined) out.voltageV = v / 1000;
  const a = quantity(objects, "1-0:31.7.0", "A");
  if (a !== undefined) out.currentA = a / 1000;
  return out;
}

/** Formats a telegram with its CRC, for the emitter and for fixtures. */
export function buildTelegram(ident: string, lines: string[]): string {
  const body = `/${ident}\r\n\r\n${lines.map((l) => `${l}\r\n`).join("")}!`;
  const crc = crc16Arc(Buffer.from(body, "latin1"));
  return `${body}${crc.toString(16).toUpperCase().padStart(4, "0")}\r\n`;
}

export type P1FramerOutput = { kind: "telegram"; text: string } | { kind: "error"; error: MeterError };

/**
 * Finds telegrams in a byte stream cut at arbitrary places. Bytes before a "/" are dropped (a reader
 * that starts mid-telegram is the normal case); a telegram that grows past MAX_TELEGRAM is dropped with
 * FRAME_TOO_LONG and the search restarts at the next "/".
 */
export class P1Framer {
  private buf = "";
  /** bytes dropped because they were not inside a telegram */
  dropped = 0;

  push(chunk: Uint8Array): P1FramerOutput[] {
    this.buf += Buffer.from(chunk).toString("latin1");
    const out: P1FramerOutput[] = [];
    for (;;) {
      const start = this.buf.indexOf("/");
      if (start < 0) {
        this.dropped += this.buf.length;
        this.buf = "";
        break;
      }
      if (start > 0) {
        this.dropped += start;
        this.buf = this.buf.slice(start);
      }
      const bang = this.buf.indexOf("!");
      if (bang < 0 || this.buf.length < bang + 5) {
        if (this.buf.length > MAX_TELEGRAM) {
          out.push({
            kind: "error",
            error: new MeterError("FRAME_TOO_LONG", "no telegram end within 8192 bytes"),
          });
          this.dropped += 1;
          this.buf = this.buf.slice(1);
          continue;
        }
        break;
      }
      // A "/" after the start but before "!" means the first telegram was cut off: resynchronise there.
      const restart = this.buf.indexOf("/", 1);
      if (restart > 0 && restart < bang) {
        out.push({
          kind: "error",
          error: new MeterError("FRAME_INVALID", "telegram cut off by a new start"),
        });
        this.dropped += restart;
        this.buf = this.buf.slice(restart);
        continue;
      }
      out.push({ kind: "telegram", text: this.buf.slice(0, bang + 5) });
      this.buf = this.buf.slice(bang + 5);
    }
    return out;
  }
}
