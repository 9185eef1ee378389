import type { Writable } from "node:stream";
import type { BlockStore } from "./store.js";

/**
 * Writes every block as one JSON line: seq, block hash inputs and certificate exactly as stored, so the
 * output can be fed to other tools or re-checked. Honours back-pressure on the stream.
 */
export async function exportLedger(store: BlockStore, out: Writable, fromSeq = 0): Promise<number> {
  let count = 0;
  for (const e of store.iterate()) {
    if (e.seq < fromSeq) continue;
    if (!out.write(`${JSON.stringify(e)}\n`))
      await new Promise<void>((resolve) => out.once("drain", resolve));
    count++;
  }
  return count;
}
