/**
 * Time as an injected seam: transports and replay take a Clock so tests can drive them, and the bus uses
 * `sleepUntil`, which finishes the last couple of milliseconds on the event loop's check phase because
 * timers alone overshoot by about a millisecond, a few percent of a 9600-baud transaction.
 */
export interface Clock {
  /** milliseconds, monotonic, fractional */
  now(): number;
  /** wall-clock ms since the Unix epoch, for reading timestamps */
  wallNow(): number;
  sleep(ms: number): Promise<void>;
  /** resolves at or just after monotonic time `t` */
  sleepUntil(t: number): Promise<void>;
  setTimer(ms: number, fn: () => void): () => void;
}

const SPIN_MS = 1.5;

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
  sleepUntil: (t) =>
    new Promise<void>((resolve) => {
      const spin = () => (performance.now() >= t ? resolve() : setImmediate(spin));
      const coarse = t - performance.now() - SPIN_MS;
      if (coarse > 0) setTimeout(spin, coarse);
      else spin();
    }),
  setTimer: (ms, fn) => {
    const h = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(h);
  },
};
