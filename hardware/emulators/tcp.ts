/** An emulated Modbus TCP meter (or gateway with several units) on 127.0.0.1. */
import { createServer, type Server, type Socket } from "node:net";
import { encodeTcpAnswer, encodeTcpException, MbapFramer } from "../../agent/meters/codec/modbus-tcp.js";
import { MeterError } from "../../agent/meters/errors.js";
import { FaultQueue, noise } from "./faults.js";
import { readImage } from "./registers.js";
import type { EmulatedDevice } from "./rtu.js";

export class TcpMeterEmulator {
  readonly faults = new FaultQueue();
  private readonly sockets = new Set<Socket>();
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(devices: EmulatedDevice[], port = 0): Promise<TcpMeterEmulator> {
    let self: TcpMeterEmulator | undefined;
    const server = createServer((s) => self?.serve(s, devices));
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(port, "127.0.0.1", () => res());
    });
    const addr = server.address();
    const actual = typeof addr === "object" && addr ? addr.port : port;
    self = new TcpMeterEmulator(server, actual);
    return self;
  }

  private serve(s: Socket, devices: EmulatedDevice[]): void {
    this.connections++;
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => undefined);
    const framer = new MbapFramer();
    s.on("data", (d: Buffer) => {
      const frames = framer.push(new Uint8Array(d.buffer, d.byteOffset, d.length));
      if (frames instanceof MeterError) {
        s.destroy();
        return;
      }
      for (const f of frames) {
        const dev = devices.find((x) => x.unit === f.unit);
        const fc = f.pdu[0];
        const address = (f.pdu[1] << 8) | f.pdu[2];
        const count = (f.pdu[3] << 8) | f.pdu[4];
        const fault = this.faults.next();
        if (fault?.kind === "silent") continue;
        if (fault?.kind === "close") {
          s.destroy();
          return;
        }
        if (fault?.kind === "garbage") {
          s.write(noise(fault.bytes ?? 12));
          continue;
        }
        let out: Uint8Array;
        if (!dev) out = encodeTcpException(f.transactionId, f.unit, fc, 11);
        else if (fault?.kind === "exception")
          out = encodeTcpException(f.transactionId, f.unit, fc, fault.code);
        else {
          const r = readImage(dev.profile, dev.state(), fc, address, count, new Set(dev.refuse ?? []));
          out =
            "exception" in r
              ? encodeTcpException(f.transactionId, f.unit, fc, r.exception)
              : encodeTcpAnswer(f.transactionId, f.unit, fc, r.registers);
        }
        s.write(out);
      }
    });
  }

  /** Drops every open connection, as a gateway reboot does. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}
