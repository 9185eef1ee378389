import { parentPort } from "node:worker_threads";
import { NodeEd25519 } from "../../protocol/crypto/node-ed25519.js";
import { type Envelope, envelopeSignatureHolds } from "../../protocol/envelope.js";

/**
 * A verify thread of aggregator/ingest/verify-pool.ts: each message is one batch, packed as
 * [32-byte key][u32 length][envelope wire bytes] per job; the answer is one byte per job, 1 where the
 * envelope's signature holds under the key. The wire bytes were decoded as strict JSON with the right
 * shape before they were sent, so plain JSON.parse gives the same values here.
 */
const ed = new NodeEd25519();
const text = new TextDecoder();

function holds(key: Uint8Array, wire: Uint8Array): boolean {
  try {
    return envelopeSignatureHolds(JSON.parse(text.decode(wire)) as Envelope, key, ed);
  } catch {
    return false;
  }
}

parentPort!.on("message", (m: { id: number; buf: Uint8Array }) => {
  const buf = m.buf;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Uint8Array(countJobs(view));
  let at = 0;
  for (let i = 0; i < out.length; i++) {
    const len = view.getUint32(at + 32);
    out[i] = holds(buf.subarray(at, at + 32), buf.subarray(at + 36, at + 36 + len)) ? 1 : 0;
    at += 36 + len;
  }
  parentPort!.postMessage({ id: m.id, verdicts: out }, [out.buffer]);
});

function countJobs(view: DataView): number {
  let n = 0;
  for (let at = 0; at < view.byteLength; at += 36 + view.getUint32(at + 32)) n++;
  return n;
}
