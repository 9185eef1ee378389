/**
 * Finds frames in a byte stream that arrives in arbitrary chunks. Anything between two delimiters that is
 * not a valid frame becomes one typed error and is dropped; the next delimiter starts afresh, so a burst of
 * line noise costs at most the frames it overlaps. Memory is bounded: an over-long run is discarded while
 * it is being received, not buffered.
 */
import { BridgeError } from "../errors.js";
import { DELIMITER, decodeFrame, type Frame, MAX_ENCODED } from "./frame.js";

export type StreamItem = { ok: true; frame: Frame } | { ok: false; error: BridgeError; bytes: number };

export class FrameDecoder {
  private readonly buf = new Uint8Array(MAX_ENCODED);
  private len = 0;
  /** bytes dropped since the current run became too long; reported once at the next delimiter */
  private overflow = 0;

  push(chunk: Uint8Array): StreamItem[] {
    const out: StreamItem[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== DELIMITER) {
        if (this.overflow > 0 || this.len === MAX_ENCODED) this.overflow++;
        else this.buf[this.len++] = b;
        continue;
      }
      if (this.overflow > 0) {
        const bytes = this.len + this.overflow;
        out.push({
          ok: false,
          bytes,
          error: new BridgeError(
            "FRAME_TOO_LONG",
            `${bytes} bytes without a delimiter, limit ${MAX_ENCODED}`,
            {
              length: bytes,
            },
          ),
        });
      } else if (this.len > 0) {
        out.push(this.finish());
      }
      this.len = 0;
      this.overflow = 0;
    }
    return out;
  }

  private finish(): StreamItem {
    try {
      return { ok: true, frame: decodeFrame(this.buf.slice(0, this.len)) };
    } catch (e) {
      if (e instanceof BridgeError) return { ok: false, error: e, bytes: this.len };
      throw e;
    }
  }
}
