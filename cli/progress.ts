/**
 * Progress of a long command on a terminal: one line on stderr, rewritten in place every second with the
 * step and the time spent on it. Nothing at all when stderr is not a terminal (a pipe, a file, journald),
 * so that output meant for machines stays clean.
 */
export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

export interface ProgressTimers {
  now(): number;
  every(ms: number, fn: () => void): () => void;
}

const realTimers: ProgressTimers = {
  now: () => Date.now(),
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

export class Progress {
  private stopTicker: (() => void) | undefined;
  private label = "";
  private startedAt = 0;

  constructor(
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    private readonly timers: ProgressTimers = realTimers,
  ) {}

  get active(): boolean {
    return this.stream.isTTY === true;
  }

  /** Starts step `index` (0-based) called `name`. */
  step(index: number, name: string): void {
    if (!this.active) return;
    this.finishTicker();
    this.label = `[${index + 1}/${this.total}] ${name}`;
    this.startedAt = this.timers.now();
    this.render("");
    this.stopTicker = this.timers.every(1000, () => this.render(""));
  }

  /** Ends the current step with a note (e.g. "done"). */
  done(note = "done"): void {
    if (!this.active || this.label === "") return;
    this.finishTicker();
    this.render(` ${note}\n`);
    this.label = "";
  }

  private render(tail: string): void {
    const s = ((this.timers.now() - this.startedAt) / 1000).toFixed(0);
    // \r and erase-to-end-of-line: the line is rewritten, not appended to
    this.stream.write(`\r\x1b[K${this.label} ${s} s${tail}`);
  }

  private finishTicker(): void {
    this.stopTicker?.();
    this.stopTicker = undefined;
  }
}
