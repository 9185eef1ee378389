import { Counter, Gauge, Registry } from "#prom-client";

/** Label values of one series and its value. */
export type Sample = [labels: Record<string, string>, value: number];

/**
 * Metrics read from the process's own counters at scrape time (pull, not push): the hot paths keep
 * their plain integer counters and nothing on them calls into prom-client. Each process has its own
 * Registry, never prom-client's global one.
 */
export class ScrapedMetrics {
  readonly registry = new Registry();

  /**
   * A counter whose value the process already keeps (monotonic within the process). Reset and set on
   * each scrape; Prometheus sees the process restart as a counter reset, which rate() handles.
   */
  counter(name: string, help: string, labelNames: string[], read: () => Sample[] | number): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const v = read();
        if (typeof v === "number") this.inc(v);
        else for (const [labels, n] of v) this.inc(labels, n);
      },
    });
  }

  /** A gauge; `undefined` leaves it without a value in this scrape (nothing known yet). */
  gauge(name: string, help: string, labelNames: string[], read: () => Sample[] | number | undefined): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const v = read();
        // reset() leaves a label-less gauge at 0; nothing known must mean no series at all.
        if (v === undefined) return this.remove({});
        if (typeof v === "number") this.set(v);
        else for (const [labels, n] of v) this.set(labels, n);
      },
    });
  }
}

/**
 * One snapshot shared by every collector of a scrape (and by a status request at the same moment):
 * taken again only when the previous one is older than `maxAgeMs`.
 */
export function memo<T>(take: () => T, maxAgeMs = 250, clock: () => number = Date.now): () => T {
  let value: T | undefined;
  let at = Number.NEGATIVE_INFINITY;
  return () => {
    const now = clock();
    if (value === undefined || now - at > maxAgeMs) {
      value = take();
      at = now;
    }
    return value;
  };
}

/** Per-key counts as samples with one label. */
export function byLabel(label: string, counts: Record<string, number> | Map<string, number>): Sample[] {
  const entries = counts instanceof Map ? [...counts] : Object.entries(counts);
  return entries.map(([k, n]) => [{ [label]: k }, n]);
}
