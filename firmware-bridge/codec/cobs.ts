/**
 * Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): removes every 0x00 from a frame so that
 * 0x00 can delimit frames on the wire, at a cost of at most one byte per 254.
 */
import { BridgeError } from "../errors.js";

export function cobsEncode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length + Math.ceil(input.length / 254) + 1);
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      continue;
    }
    out[o++] = input[i];
    code++;
    // A full block of 254 non-zero bytes ends without an implied zero; only start a new block if more
    // input follows, so that the encoding of a 254-byte run is not followed by an empty block.
    if (code === 0xff && i + 1 < input.length) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** Decodes one COBS block (without its 0x00 delimiter). */
export function cobsDecode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  let o = 0;
  let i = 0;
  while (i < input.length) {
    const code = input[i];
    if (code === 0) throw new BridgeError("FRAME_COBS", "zero code byte inside a COBS block", { at: i });
    if (i + code > input.length) {
      throw new BridgeError("FRAME_COBS", "COBS code byte points past the end of the frame", {
        at: i,
        code,
        length: input.length,
      });
    }
    for (let k = 1; k < code; k++) {
      const b = input[i + k];
      if (b === 0) throw new BridgeError("FRAME_COBS", "zero byte inside a COBS block", { at: i + k });
      out[o++] = b;
    }
    i += code;
    if (code < 0xff && i < input.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
