/**
 * SML transport layer v1 (BSI TR-03109-1 / SML 1.04 § 8): a file starts with the escape 1B1B1B1B and
 * 01010101, ends with 1B1B1B1B 1A, the number of pad bytes, and the CRC-16/X-25 of everything before the
 * CRC, sent low byte first. A 1B1B1B1B inside the data is sent twice.
 */
import { MeterError } from "../errors.js";
import { crc16X25 } from "./crc.js";

const ESC = 0x1b;
/** Largest SML file accepted; meters send a few hundred bytes. */
export const MAX_SML_FILE = 8192;

export type SmlFramerOutput = { kind: "file"; payload: Uint8Array } | { kind: "error"; error: MeterError };

function isEscape(b: Uint8Array, i: number): boolean {
  return i + 4 <= b.length && b[i] === ESC && b[i + 1] === ESC && b[i + 2] === ESC && b[i + 3] === ESC;
}
function isStart(b: Uint8Array, i: number): boolean {
  return (
    isEscape(b, i) &&
    i + 8 <= b.length &&
    b[i + 4] === 1 &&
    b[i + 5] === 1 &&
    b[i + 6] === 1 &&
    b[i + 7] === 1
  );
}

/** Wraps a payload into a transport frame (for emulators and fixtures). */
export function encodeSmlTransport(payload: Uint8Array): Uint8Array {
  const body: number[] = [ESC, ESC, ESC, ESC, 1, 1, 1, 1];
  for (let i = 0; i < payload.length; i++) {
    if (isEscape(payload, i)) {
      body.push(ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC);
      i += 3;
    } else body.push(payload[i]);
  }
  const pad = (4 - ((body.length - 8) % 4)) % 4;
  for (let k = 0; k < pad; k++) body.push(0);
  body.push(ESC, ESC, ESC, ESC, 0x1a, pad);
  const out = Uint8Array.from([...body, 0, 0]);
  const crc = crc16X25(out, 0, out.length - 2);
  out[out.length - 2] = crc & 0xff;
  out[out.length - 1] = crc >> 8;
  return out;
}

/**
 * Finds SML files in a byte stream cut anywhere. Bytes outside a file are dropped; an escape followed by
 * anything but a start, an end or a second escape breaks the file (FRAME_INVALID) and the search goes on.
 */
export class SmlFramer {
  private buf = new Uint8Array(0);
  dropped = 0;

  push(chunk: Uint8Array): SmlFramerOutput[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    this.buf = joined;
    const out: SmlFramerOutput[] = [];
    for (;;) {
      let start = -1;
      for (let i = 0; i + 8 <= this.buf.length; i++) {
        if (isStart(this.buf, i)) {
          start = i;
          break;
        }
      }
      if (start < 0) {
        // keep a tail that could be the beginning of a start sequence
        const keep = Math.min(this.buf.length, 7);
        this.dropped += this.buf.length - keep;
        this.buf = this.buf.slice(this.buf.length - keep);
        return out;
      }
      this.dropped += start;
      this.buf = this.buf.slice(start);
      const r = this.scanFile();
      if (r === "more") {
        if (this.buf.length > MAX_SML_FILE) {
          out.push({
            kind: "error",
            error: new MeterError("FRAME_TOO_LONG", "no SML end sequence within 8192 bytes"),
          });
          this.buf = this.buf.slice(8);
          this.dropped += 8;
          continue;
        }
        return out;
      }
      out.push(r.out);
      this.buf = this.buf.slice(r.consumed);
    }
  }

  private scanFile(): "more" | { out: SmlFramerOutput; consumed: number } {
    const b = this.buf;
    const data: number[] = [];
    let i = 8;
    while (i < b.length) {
      if (b[i] !== ESC) {
        data.push(b[i++]);
        continue;
      }
      if (i + 8 > b.length) return "more";
      if (!isEscape(b, i)) {
        data.push(b[i++]);
        continue;
      }
      if (isEscape(b, i + 4)) {
        data.push(ESC, ESC, ESC, ESC);
        i += 8;
        continue;
      }
      if (b[i + 4] === 0x1a) {
        const end = i + 8;
        const pad = b[i + 5];
        const crc = crc16X25(b, 0, end - 2);
        const sent = b[end - 2] | (b[end - 1] << 8);
        if (crc !== sent) {
          return {
            out: {
              kind: "error",
              error: new MeterError("CRC_MISMATCH", "SML file failed its CRC-16/X-25 check", {
                sent,
                computed: crc,
              }),
            },
            consumed: end,
          };
        }
        if (pad > 3 || pad > data.length) {
          return {
            out: { kind: "error", error: new MeterError("FRAME_INVALID", `SML pad count ${pad} is invalid`) },
            consumed: end,
          };
        }
        return {
          out: { kind: "file", payload: Uint8Array.from(data.slice(0, data.length - pad)) },
          consumed: end,
        };
      }
      // A new start inside a file means the file was cut short: resynchronise there.
      return {
        out: {
          kind: "error",
          error: new MeterError("FRAME_INVALID", "SML escape followed by an unknown sequence"),
        },
        consumed: isStart(b, i) ? i : i + 4,
      };
    }
    return "more";
  }
}
