/** The emulator's end of a pseudo-terminal pair, opened with serialport like a real device would be. */
import { realpathSync } from "node:fs";
import { SerialPort } from "serialport";

export interface EmulatorPort {
  write(b: Uint8Array): void;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

export async function openEmulatorPort(
  link: string,
  baud: number,
  onData: (b: Uint8Array) => void,
  opts: { dataBits?: 7 | 8; parity?: "none" | "even" | "odd" } = {},
): Promise<EmulatorPort> {
  const port = new SerialPort({
    path: realpathSync(link),
    baudRate: baud,
    dataBits: opts.dataBits ?? 8,
    parity: opts.parity ?? "none",
    autoOpen: false,
  });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  port.on("data", (d: Buffer) => onData(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  // A vanished peer surfaces as an error on the next write; the emulator just stops.
  port.on("error", () => undefined);
  return {
    write: (b) => {
      if (port.isOpen) port.write(Buffer.from(b));
    },
    // A close racing a vanished peer has been seen not to call back; do not let that hang a test.
    close: () =>
      new Promise<void>((res) => {
        if (!port.isOpen) return res();
        const t = setTimeout(res, 1000);
        port.close(() => {
          clearTimeout(t);
          res();
        });
      }),
    get isOpen() {
      return port.isOpen;
    },
  };
}
