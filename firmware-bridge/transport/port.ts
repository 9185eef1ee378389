/**
 * The byte pipe under the bridge. The bridge only sees `BridgePort`; `openSerialPort` is the real one
 * (a USB-serial adapter, a UART, or a socat pseudo-terminal), and unit tests of the shell may pass another.
 */
import { SerialPort } from "serialport";
import { BridgeError } from "../errors.js";

export interface BridgePort {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface PortHandlers {
  onData(bytes: Uint8Array): void;
  onClose(error?: Error): void;
  /** the port went away and is open again (only from transports that reopen, see reconnect.ts) */
  onReopen?(): void;
}

export type PortOpener = (handlers: PortHandlers) => Promise<BridgePort>;

export interface SerialOptions {
  path: string;
  /** the reference firmware runs its UART at 115200 8N1 */
  baudRate?: number;
}

export function serialOpener(opts: SerialOptions): PortOpener {
  return async (h) => {
    const port = new SerialPort({ path: opts.path, baudRate: opts.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((e) =>
        e
          ? reject(
              new BridgeError("PORT_ERROR", `cannot open ${opts.path}: ${e.message}`, { path: opts.path }),
            )
          : resolve(),
      ),
    );
    let closed = false;
    const closeOnce = (e?: Error) => {
      if (closed) return;
      closed = true;
      h.onClose(e);
    };
    port.on("data", (d: Buffer) => h.onData(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    port.on("close", (e?: Error | null) => closeOnce(e ?? undefined));
    port.on("error", (e: Error) => closeOnce(e));
    return {
      write: (bytes) =>
        new Promise<void>((resolve, reject) => {
          if (closed) return reject(new BridgeError("CLOSED", "serial port is closed", { path: opts.path }));
          port.write(Buffer.from(bytes), (e) =>
            e
              ? reject(new BridgeError("PORT_ERROR", `write failed: ${e.message}`, { path: opts.path }))
              : resolve(),
          );
        }),
      close: () =>
        new Promise<void>((resolve) => {
          closed = true;
          if (!port.isOpen) return resolve();
          port.close(() => resolve());
        }),
    };
  };
}
