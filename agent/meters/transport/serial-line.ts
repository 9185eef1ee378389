/**
 * One owner of one serial port. serialport does not reconnect by itself, so this does: after a close or
 * error, or when the bus declares the line dead, the port is reopened with exponential back-off, and the
 * configured path is resolved again each time, because `/dev/serial/by-id/...` is a symlink that udev
 * points at a new ttyUSBn after the adapter is replugged (and socat's link at a new /dev/pts/n).
 */
import { realpath } from "node:fs/promises";
import { ConditionTracker, createLogger, type Logger } from "../../../protocol/log.js";
import { MeterError } from "../errors.js";
import type { Clock } from "./clock.js";

export interface SerialSettings {
  path: string;
  baud: number;
  dataBits?: 7 | 8;
  parity?: "none" | "even" | "odd";
  stopBits?: 1 | 2;
}

/** The seam to the operating system; tests of the line logic can pass a fake. */
export interface PortHandle {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
export interface PortEvents {
  onData(bytes: Uint8Array): void;
  onClose(err?: Error): void;
}
export type PortOpener = (
  s: SerialSettings & { resolvedPath: string },
  ev: PortEvents,
) => Promise<PortHandle>;

export const openSerialPort: PortOpener = async (s, ev) => {
  // Loaded on first use: serialport and its native binding add about 10 MB to an agent that only
  // reads Modbus TCP or replays logs.
  const { SerialPort } = await import("serialport");
  const port = new SerialPort({
    path: s.resolvedPath,
    baudRate: s.baud,
    dataBits: s.dataBits ?? 8,
    parity: s.parity ?? "none",
    stopBits: s.stopBits ?? 1,
    autoOpen: false,
  });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  port.on("data", (d: Buffer) => ev.onData(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  let closed = false;
  const closeOnce = (e?: Error) => {
    if (closed) return;
    closed = true;
    ev.onClose(e);
  };
  port.on("close", (e?: Error) => closeOnce(e ?? undefined));
  port.on("error", (e: Error) => {
    closeOnce(e);
    if (port.isOpen) port.close(() => undefined);
  });
  return {
    write: (bytes) =>
      new Promise<void>((res, rej) => {
        port.write(Buffer.from(bytes), (e) => {
          if (e) return rej(e);
          port.drain((e2) => (e2 ? rej(e2) : res()));
        });
      }),
    close: () =>
      new Promise<void>((res) => {
        closed = true;
        if (!port.isOpen) return res();
        port.close(() => res());
      }),
  };
};

const WRITE_TIMEOUT_MS = 2000;

export interface SerialLineOptions {
  clock: Clock;
  opener?: PortOpener;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  log?: Logger;
}

export class SerialLine {
  private handle: PortHandle | undefined;
  private opening: Promise<void> | undefined;
  private closedByUser = false;
  private backoff: number;
  private nextAttemptAt = 0;
  private dataListener: ((b: Uint8Array) => void) | undefined;
  private closeListeners = new Set<() => void>();
  private opens = 0;
  private reopenCount = 0;
  /** "dropped" or "closed" while the line cycles without answering; logged on change, not per cycle */
  private readonly trouble = new ConditionTracker<"dropped" | "closed">();
  private readonly log: Logger;

  constructor(
    readonly settings: SerialSettings,
    private readonly opts: SerialLineOptions,
  ) {
    this.backoff = opts.backoffMinMs ?? 100;
    this.log = opts.log ?? createLogger("agent:serial");
  }

  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /** How many times the port was opened again after the first open. */
  get reopens(): number {
    return this.reopenCount;
  }

  setDataListener(fn: ((b: Uint8Array) => void) | undefined): void {
    this.dataListener = fn;
  }

  onClose(fn: () => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  /**
   * Opens the port if needed, waiting for the back-off; gives up with PORT_CLOSED at `deadline`
   * (monotonic ms) so that a read fails in its own time budget instead of hanging.
   */
  async ensureOpen(deadline: number): Promise<void> {
    const { clock } = this.opts;
    while (!this.handle) {
      if (this.closedByUser) throw new MeterError("CLOSED", "serial line closed");
      if (this.opening) {
        await this.opening;
        continue;
      }
      const wait = this.nextAttemptAt - clock.now();
      if (wait > 0) {
        if (clock.now() + wait > deadline) {
          throw new MeterError("PORT_CLOSED", `serial port ${this.settings.path} is not open (retrying)`, {
            path: this.settings.path,
          });
        }
        await clock.sleep(wait);
        continue;
      }
      this.opening = this.tryOpen().finally(() => {
        this.opening = undefined;
      });
      await this.opening;
      if (!this.handle && clock.now() >= deadline) {
        throw new MeterError("PORT_CLOSED", `serial port ${this.settings.path} cannot be opened`, {
          path: this.settings.path,
        });
      }
    }
  }

  private async tryOpen(): Promise<void> {
    const { clock } = this.opts;
    try {
      const resolvedPath = await realpath(this.settings.path);
      const opener = this.opts.opener ?? openSerialPort;
      let h: PortHandle | undefined;
      h = await opener(
        { ...this.settings, resolvedPath },
        {
          onData: (b) => {
            const cycles = this.trouble.leave("line");
            if (cycles !== undefined)
              this.log.info("serial line answering again", { path: this.settings.path, cycles });
            this.dataListener?.(b);
          },
          onClose: (err) => {
            if (this.handle !== h) return;
            this.handle = undefined;
            const fields = { path: this.settings.path, error: err?.message };
            if (this.trouble.enter("line", "closed")) this.log.warn("serial port closed", fields);
            else this.log.debug("serial port closed again", fields);
            for (const fn of this.closeListeners) fn();
          },
        },
      );
      if (this.closedByUser) {
        await h.close();
        return;
      }
      this.handle = h;
      if (this.opens++ > 0) this.reopenCount++;
      this.backoff = this.opts.backoffMinMs ?? 100;
      // Reopening a line dropped for silence, again and again, is the same condition: not news each time.
      const fields = { path: this.settings.path, device: resolvedPath };
      if (this.trouble.state("line") === "dropped") this.log.debug("serial port open", fields);
      else this.log.info("serial port open", fields);
    } catch (e) {
      this.nextAttemptAt = clock.now() + this.backoff;
      this.log.debug("serial port open failed", {
        path: this.settings.path,
        error: String(e),
        retryMs: this.backoff,
      });
      this.backoff = Math.min(this.backoff * 2, this.opts.backoffMaxMs ?? 2000);
    }
  }

  /**
   * Writes and waits until the bytes have left. A port that closes meanwhile, or a write that does not
   * finish in `WRITE_TIMEOUT_MS` (a wedged adapter), fails the write instead of leaving it pending.
   */
  async write(bytes: Uint8Array): Promise<void> {
    const h = this.handle;
    if (!h) throw new MeterError("PORT_CLOSED", "serial port is not open", { path: this.settings.path });
    let unhook = () => {};
    let cancel = () => {};
    const interrupted = new Promise<never>((_, reject) => {
      unhook = this.onClose(() => reject(new Error("port closed during write")));
      cancel = this.opts.clock.setTimer(WRITE_TIMEOUT_MS, () => reject(new Error("write timed out")));
    });
    try {
      await Promise.race([h.write(bytes), interrupted]);
    } catch (e) {
      await this.drop(`write failed: ${String(e)}`);
      throw new MeterError("PORT_ERROR", `write to ${this.settings.path} failed`, { cause: String(e) });
    } finally {
      unhook();
      cancel();
      interrupted.catch(() => undefined);
    }
  }

  /** Closes the port so the next use reopens it (after the back-off): for a line that has gone silent. */
  async drop(reason: string): Promise<void> {
    const h = this.handle;
    if (!h) return;
    this.handle = undefined;
    this.nextAttemptAt = this.opts.clock.now() + this.backoff;
    if (this.trouble.enter("line", "dropped"))
      this.log.warn("serial port dropped", { path: this.settings.path, reason });
    else this.log.debug("serial port dropped again", { path: this.settings.path, reason });
    for (const fn of this.closeListeners) fn();
    await h.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closedByUser = true;
    const h = this.handle;
    this.handle = undefined;
    if (this.opening) await this.opening.catch(() => undefined);
    await h?.close();
  }
}
