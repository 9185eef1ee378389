import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/**
 * One envelope to check: its wire bytes (which the caller has already decoded as strict JSON with the
 * right shape, protocol/envelope.ts `decodeEnvelope`) and the 32-byte key of its sender. The thread
 * derives the signing bytes itself, so the event loop does not canonicalise what only the thread needs.
 */
export interface SignatureJob {
  wire: Uint8Array;
  key: Uint8Array;
}

/**
 * The number of verify threads to start when the configuration does not say: two on any board with more
 * than one core (they share the cores with the event loop; on 2 cores two threads ingest more than one,
 * docs/AGGREGATOR.md "Measured"), none on a single core, which verifies on its event loop.
 */
export function defaultVerifyThreads(cores = availableParallelism()): number {
  return cores > 1 ? 2 : 0;
}

interface Request {
  resolve: (verdicts: boolean[]) => void;
  reject: (e: Error) => void;
  worker: Worker;
}

/**
 * ed25519 verification on worker threads (aggregator/ingest/verify-worker.ts), so that on a board with
 * more than one core the event loop does everything else while signatures are checked beside it. A
 * batch travels as one transferred buffer (key, length, wire bytes per job) and comes back as one byte
 * per job. Batches are spread over the threads; their results may come back in any order, callers
 * that need order keep it themselves (Ingest does).
 */
export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Request>();
  private readonly size: number;
  private next = 0;
  private nextId = 0;
  private failure: Error | undefined;

  /** The threads start with the first batch: an aggregator that never sees a burst never starts them. */
  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`verify threads must be ≥ 1, got ${threads}`);
    this.size = threads;
  }

  private start(): void {
    for (let i = 0; i < this.size; i++) {
      // the process's node flags, but --input-type (a script given with -e) which a file entry refuses
      const execArgv = process.execArgv.filter((a) => !a.startsWith("--input-type"));
      const w = new Worker(new URL("./verify-worker.js", import.meta.url), { execArgv });
      // An idle thread never keeps the process alive; one with a batch does, until it answers.
      w.unref();
      w.on("message", (m: { id: number; verdicts: Uint8Array }) => {
        const r = this.pending.get(m.id);
        if (r === undefined) return;
        this.pending.delete(m.id);
        if (![...this.pending.values()].some((p) => p.worker === w)) w.unref();
        r.resolve(Array.from(m.verdicts, (v) => v === 1));
      });
      w.on("error", (e) => this.fail(e));
      w.on("exit", (code) => this.fail(new Error(`verify thread exited with code ${code}`)));
      this.workers.push(w);
    }
  }

  get threads(): number {
    return this.size;
  }

  /** How many threads run now (none before the first batch). */
  get started(): number {
    return this.workers.length;
  }

  /** Set once a thread has died: the pool refuses further work and callers verify on their own thread. */
  get broken(): Error | undefined {
    return this.failure;
  }

  /** The verdicts of `jobs`, in their order. Rejects if a thread dies meanwhile or the pool is closed. */
  verify(jobs: readonly SignatureJob[]): Promise<boolean[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (jobs.length === 0) return Promise.resolve([]);
    let size = 0;
    for (const j of jobs) {
      if (j.key.length !== 32) throw new RangeError("a signature job needs a 32-byte key");
      size += 32 + 4 + j.wire.length;
    }
    const buf = new Uint8Array(size);
    const view = new DataView(buf.buffer);
    let at = 0;
    for (const j of jobs) {
      buf.set(j.key, at);
      view.setUint32(at + 32, j.wire.length);
      buf.set(j.wire, at + 36);
      at += 36 + j.wire.length;
    }
    if (this.workers.length === 0) this.start();
    const id = this.nextId++;
    const worker = this.workers[this.next++ % this.workers.length];
    return new Promise<boolean[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.ref();
      worker.postMessage({ id, buf }, [buf.buffer]);
    });
  }

  private fail(e: Error): void {
    if (this.failure !== undefined) return;
    this.failure = e;
    for (const w of this.workers) w.unref();
    for (const r of this.pending.values()) r.reject(e);
    this.pending.clear();
  }

  /** Stops the threads; batches still in flight are rejected. */
  async close(): Promise<void> {
    this.fail(new Error("verify pool closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
