/**
 * Faults an emulator can be told to inject, each for the next `times` requests (or frames).
 * "silent": no answer; "bad-crc": the answer with a corrupted checksum; "exception": a Modbus exception
 * answer; "garbage": noise bytes before the answer; "close": the emulator closes its end of the line.
 */
export type Fault =
  | { kind: "silent" }
  | { kind: "bad-crc" }
  | { kind: "exception"; code: number }
  | { kind: "garbage"; bytes?: number }
  | { kind: "close"; reopenAfterMs?: number };

export class FaultQueue {
  private queue: Fault[] = [];

  inject(f: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.queue.push(f);
  }

  /** The fault for the next request, if any. */
  next(): Fault | undefined {
    return this.queue.shift();
  }

  get pending(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue = [];
  }
}

/** Deterministic noise so a failing test shows the same bytes again. */
export function noise(n: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
