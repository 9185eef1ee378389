/**
 * An emulated Modbus RTU meter (or several, by unit id) on one end of a pty pair. A pty moves bytes
 * instantly, so the emulator puts the physics back: it answers when the answer would have finished
 * arriving on a real line, i.e. request wire time + 3.5-character gap + answer wire time after the
 * request came in. A master cannot beat the wire limit against it, and one that keeps up reaches it.
 */
import type { ReadRequest } from "../../agent/meters/codec/modbus-pdu.js";
import {
  encodeRtuAnswer,
  encodeRtuException,
  interFrameGapMs,
  type LineSettings,
  RTU_REQUEST_LENGTH,
  scanRtuRequests,
  wireTimeMs,
} from "../../agent/meters/codec/modbus-rtu.js";
import type { MeterProfile, QuantityName } from "../../agent/meters/profiles/schema.js";
import { type Clock, systemClock } from "../../agent/meters/transport/clock.js";
import { FaultQueue, noise } from "./faults.js";
import { readImage } from "./registers.js";
import { type EmulatorPort, openEmulatorPort } from "./serial-end.js";
import type { StateSource } from "./state.js";

export interface EmulatedDevice {
  unit: number;
  profile: MeterProfile;
  state: StateSource;
  /** quantities answered with exception 2 */
  refuse?: QuantityName[];
}

export interface RtuEmulatorOptions {
  link: string;
  line: LineSettings;
  devices: EmulatedDevice[];
  clock?: Clock;
  /** false answers at once (for tests that only care about content) */
  timingTrue?: boolean;
}

export class RtuMeterEmulator {
  readonly faults = new FaultQueue();
  /** requests seen per unit, for tests */
  readonly served = new Map<number, number>();
  private port: EmulatorPort | undefined;
  private pending: Uint8Array = new Uint8Array(0);
  private busyUntil = 0;
  private stopped = false;
  private readonly clock: Clock;

  private constructor(private readonly o: RtuEmulatorOptions) {
    this.clock = o.clock ?? systemClock;
  }

  static async start(o: RtuEmulatorOptions): Promise<RtuMeterEmulator> {
    const e = new RtuMeterEmulator(o);
    await e.open();
    return e;
  }

  private async open(): Promise<void> {
    this.pending = new Uint8Array(0);
    this.port = await openEmulatorPort(this.o.link, this.o.line.baud, (b) => this.onData(b), {
      dataBits: this.o.line.dataBits,
      parity: this.o.line.parity,
    });
  }

  private onData(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.pending.length + chunk.length);
    joined.set(this.pending);
    joined.set(chunk, this.pending.length);
    const { requests, rest } = scanRtuRequests(joined);
    this.pending = rest.length > 256 ? new Uint8Array(0) : rest;
    const arrived = this.clock.now();
    for (const r of requests) void this.answer(r, arrived);
  }

  private async answer(req: ReadRequest, arrived: number): Promise<void> {
    const dev = this.o.devices.find((d) => d.unit === req.unit);
    if (!dev) return; // another device's request: stay quiet, as a real slave does
    this.served.set(req.unit, (this.served.get(req.unit) ?? 0) + 1);
    const fault = this.faults.next();
    if (fault?.kind === "silent") return;
    if (fault?.kind === "close") {
      await this.port?.close();
      if (fault.reopenAfterMs !== undefined) {
        await this.clock.sleep(fault.reopenAfterMs);
        if (!this.stopped) await this.open();
      }
      return;
    }
    let frame: Uint8Array;
    if (fault?.kind === "exception") frame = encodeRtuException(req.unit, req.fc, fault.code);
    else {
      const r = readImage(
        dev.profile,
        dev.state(),
        req.fc,
        req.address,
        req.count,
        new Set(dev.refuse ?? []),
      );
      frame =
        "exception" in r
          ? encodeRtuException(req.unit, req.fc, r.exception)
          : encodeRtuAnswer(req.unit, req.fc, r.registers);
    }
    if (fault?.kind === "bad-crc") {
      frame = Uint8Array.from(frame);
      frame[frame.length - 1] ^= 0x5a;
    }
    if (fault?.kind === "garbage") frame = Uint8Array.from([...noise(fault.bytes ?? 7), ...frame]);
    if (this.o.timingTrue !== false) {
      const line = this.o.line;
      const start = Math.max(
        arrived + wireTimeMs(RTU_REQUEST_LENGTH, line) + interFrameGapMs(line),
        this.busyUntil,
      );
      const done = start + wireTimeMs(frame.length, line);
      this.busyUntil = done;
      await this.clock.sleepUntil(done);
    }
    if (!this.stopped) this.port?.write(frame);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.port?.close();
  }
}
