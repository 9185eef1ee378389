/**
 * Meters that talk by themselves (DSMR P1 every 1 s or 10 s, SML every 1-4 s): the port stays open, every
 * frame is decoded as it arrives and the newest good one is kept. `read()` returns a frame that arrived
 * since the previous read, or waits for the next one; a meter that stays silent through several reads
 * gets its port dropped and reopened, because a vanished pty or a dead USB adapter does not always
 * report a close.
 */
import { ConditionTracker, createLogger, type Logger } from "../../../protocol/log.js";
import { P1Framer, parseTelegram } from "../codec/dsmr.js";
import { parseSmlPayload } from "../codec/sml.js";
import { SmlFramer } from "../codec/sml-transport.js";
import { MeterError } from "../errors.js";
import type { Clock } from "../transport/clock.js";
import { zeroCounters } from "../transport/modbus-client.js";
import type { SerialLine } from "../transport/serial-line.js";
import type { DriverCounters, MeterDriver, MeterReading } from "../types.js";

export interface FrameValues {
  importWh: number;
  exportWh: number;
  powerW: number;
  voltageV?: number;
  currentA?: number;
}

/** Turns bytes into frame values or typed errors; one per protocol. */
export interface FrameDecoder {
  push(chunk: Uint8Array): (FrameValues | MeterError)[];
  /** bytes dropped outside frames so far */
  dropped(): number;
}

export function p1Decoder(): FrameDecoder {
  const f = new P1Framer();
  return {
    push: (chunk) =>
      f.push(chunk).map((o) => {
        if (o.kind === "error") return o.error;
        const v = parseTelegram(o.text);
        if (v instanceof MeterError) return v;
        return {
          importWh: v.importWh,
          exportWh: v.exportWh,
          powerW: v.powerW,
          voltageV: v.voltageV,
          currentA: v.currentA,
        };
      }),
    dropped: () => f.dropped,
  };
}

export function smlDecoder(): FrameDecoder {
  const f = new SmlFramer();
  return {
    push: (chunk) => f.push(chunk).map((o) => (o.kind === "error" ? o.error : parseSmlPayload(o.payload))),
    dropped: () => f.dropped,
  };
}

export interface StreamDriverOptions {
  id: string;
  line: SerialLine;
  decoder: FrameDecoder;
  clock: Clock;
  /** how long read() waits for a frame */
  timeoutMs: number;
  /** silent reads in a row after which the port is reopened */
  dropAfterSilent?: number;
  log?: Logger;
}

export class StreamMeterDriver implements MeterDriver {
  readonly id: string;
  private readonly c: DriverCounters = zeroCounters();
  private fresh: MeterReading | undefined;
  private waiters: ((r: MeterReading) => void)[] = [];
  private silentInRow = 0;
  private lastDropped = 0;
  /** bad frames in a row are logged once per code, then counted until a good frame arrives */
  private readonly rejecting = new ConditionTracker();
  private readonly log: Logger;

  constructor(private readonly o: StreamDriverOptions) {
    this.id = o.id;
    this.log = o.log ?? createLogger("agent:meter-stream");
    o.line.setDataListener((chunk) => this.onData(chunk));
  }

  private onData(chunk: Uint8Array): void {
    for (const v of this.o.decoder.push(chunk)) {
      if (v instanceof MeterError) {
        if (v.code === "CRC_MISMATCH") this.c.crcErrors++;
        else this.c.garbage++;
        const fields = { meter: this.id, code: v.code, reason: v.message };
        if (this.rejecting.enter("frames", v.code)) this.log.warn("frame rejected", fields);
        else this.log.debug("frame rejected", fields);
        continue;
      }
      const rejected = this.rejecting.leave("frames");
      if (rejected !== undefined) this.log.info("frames valid again", { meter: this.id, rejected });
      const r: MeterReading = {
        meter: this.id,
        ts: this.o.clock.wallNow(),
        importWh: v.importWh,
        exportWh: v.exportWh,
        powerW: v.powerW,
      };
      if (v.voltageV !== undefined) r.voltageV = v.voltageV;
      if (v.currentA !== undefined) r.currentA = v.currentA;
      this.c.reads++;
      const ws = this.waiters;
      this.waiters = [];
      if (ws.length > 0) for (const w of ws) w(r);
      else this.fresh = r;
    }
    const dropped = this.o.decoder.dropped();
    if (dropped > this.lastDropped) {
      this.c.garbage++;
      this.lastDropped = dropped;
    }
  }

  async read(): Promise<MeterReading> {
    const { clock, line } = this.o;
    const deadline = clock.now() + this.o.timeoutMs;
    await line.ensureOpen(deadline);
    this.c.reconnects = line.reopens;
    const ready = this.fresh;
    if (ready) {
      this.fresh = undefined;
      this.silentInRow = 0;
      return ready;
    }
    const r = await new Promise<MeterReading | undefined>((resolve) => {
      const cancel = clock.setTimer(deadline - clock.now(), () => {
        this.waiters = this.waiters.filter((w) => w !== got);
        resolve(undefined);
      });
      const got = (x: MeterReading) => {
        cancel();
        resolve(x);
      };
      this.waiters.push(got);
    });
    if (r) {
      this.silentInRow = 0;
      return r;
    }
    this.c.timeouts++;
    if (++this.silentInRow >= (this.o.dropAfterSilent ?? 2)) {
      this.silentInRow = 0;
      await line.drop("meter silent");
    }
    throw new MeterError("TIMEOUT", `no valid frame from meter ${this.id} within ${this.o.timeoutMs} ms`);
  }

  counters(): DriverCounters {
    return { ...this.c, reconnects: this.o.line.reopens };
  }

  async close(): Promise<void> {
    this.o.line.setDataListener(undefined);
    await this.o.line.close();
  }
}
