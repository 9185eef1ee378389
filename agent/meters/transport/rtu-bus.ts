/**
 * The owner of one RS-485 bus. All meters on the port share it, so every transaction goes through one
 * queue: request, wait for the answer (or the timeout), then keep the line silent for the inter-frame gap
 * (and the device's extra delay) before the next request. A line that stays silent for several
 * transactions in a row is dropped and reopened: a pty whose other end went away, or a USB adapter that
 * was unplugged, does not always report a close.
 */
import { createLogger, type Logger } from "../../../protocol/log.js";
import type { ReadRequest } from "../codec/modbus-pdu.js";
import {
  encodeRtuRequest,
  interFrameGapMs,
  type LineSettings,
  RTU_REQUEST_LENGTH,
  rtuAnswerLength,
  scanRtuAnswer,
  wireTimeMs,
} from "../codec/modbus-rtu.js";
import { MeterError } from "../errors.js";
import type { DriverCounters } from "../types.js";
import type { Clock } from "./clock.js";
import type { DeviceTiming, ModbusClient } from "./modbus-client.js";
import type { SerialLine } from "./serial-line.js";

export interface RtuBusOptions {
  clock: Clock;
  /**
   * Consecutive silent transactions, per unit on the bus, after which the port is reopened: one meter
   * switched off must not make the port cycle under the meters that still answer.
   */
  dropAfterSilent?: number;
  log?: Logger;
}

export class RtuBus implements ModbusClient {
  private tail: Promise<unknown> = Promise.resolve();
  private lastActivity = Number.NEGATIVE_INFINITY;
  private silentInRow = 0;
  private strayBytes = 0;
  private readonly attached = new Set<DriverCounters>();
  private readonly units = new Set<number>();
  private seenReopens = 0;
  private readonly line: LineSettings;
  private readonly log: Logger;

  constructor(
    private readonly port: SerialLine,
    private readonly opts: RtuBusOptions,
  ) {
    const s = port.settings;
    this.line = { baud: s.baud, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits };
    this.log = opts.log ?? createLogger("agent:modbus");
  }

  /** Counters of every device on this bus see the port's reconnects. */
  attach(counters: DriverCounters): void {
    this.attached.add(counters);
  }

  readRegisters(req: ReadRequest, timing: DeviceTiming, counters: DriverCounters): Promise<Uint16Array> {
    this.attached.add(counters);
    const run = this.tail.then(() => this.withRetries(req, timing, counters));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async withRetries(req: ReadRequest, timing: DeviceTiming, c: DriverCounters): Promise<Uint16Array> {
    let last: MeterError | undefined;
    for (let attempt = 0; attempt <= timing.retries; attempt++) {
      try {
        return await this.transact(req, timing, c);
      } catch (e) {
        if (!(e instanceof MeterError)) throw e;
        last = e;
        if (e.code === "MODBUS_EXCEPTION" || e.code === "CLOSED") throw e;
        this.log.debug("modbus attempt failed", { unit: req.unit, attempt, code: e.code });
      }
    }
    throw last!;
  }

  private noteReopens(): void {
    const r = this.port.reopens;
    if (r > this.seenReopens) {
      for (const c of this.attached) c.reconnects += r - this.seenReopens;
      this.seenReopens = r;
    }
  }

  private async transact(req: ReadRequest, timing: DeviceTiming, c: DriverCounters): Promise<Uint16Array> {
    const { clock } = this.opts;
    this.units.add(req.unit);
    const frame = encodeRtuRequest(req);
    const wire = wireTimeMs(RTU_REQUEST_LENGTH + rtuAnswerLength(req.count), this.line);
    const budget = timing.timeoutMs + wire;
    await this.port.ensureOpen(clock.now() + budget);
    this.noteReopens();
    await clock.sleepUntil(this.lastActivity + interFrameGapMs(this.line) + timing.delayMs);

    if (this.strayBytes > 0) {
      // bytes nobody asked for since the last answer: a late answer after a timeout, or noise
      c.garbage++;
      this.strayBytes = 0;
    }
    let buf = new Uint8Array(0);
    let abort: (e: MeterError) => void = () => {};
    const outcome = new Promise<Uint16Array>((resolve, reject) => {
      let cancelTimer = () => {};
      let removeClose = () => {};
      const finish = (err: MeterError | undefined, regs?: Uint16Array) => {
        cancelTimer();
        removeClose();
        this.port.setDataListener((b) => {
          this.strayBytes += b.length;
        });
        this.lastActivity = clock.now();
        if (err) reject(err);
        else resolve(regs!);
      };
      abort = finish;
      this.port.setDataListener((chunk) => {
        if (this.log.enabled("trace"))
          this.log.trace("rx", { unit: req.unit, hex: Buffer.from(chunk).toString("hex") });
        const joined = new Uint8Array(buf.length + chunk.length);
        joined.set(buf);
        joined.set(chunk, buf.length);
        buf = joined;
        const r = scanRtuAnswer(buf, req);
        if (r.kind === "incomplete") return;
        if (r.skipped > 0) c.garbage++;
        if (r.kind === "registers") finish(undefined, r.registers);
        else finish(r.error);
      });
      removeClose = this.port.onClose(() =>
        finish(new MeterError("PORT_CLOSED", "serial port closed during a transaction", { unit: req.unit })),
      );
      cancelTimer = clock.setTimer(budget, () => {
        if (buf.length === 0) {
          finish(
            new MeterError("TIMEOUT", `no answer from unit ${req.unit} within ${timing.timeoutMs} ms`, {
              unit: req.unit,
            }),
          );
        } else {
          finish(
            new MeterError(
              "FRAME_INVALID",
              `no valid answer from unit ${req.unit}: ${buf.length} bytes of noise`,
              { unit: req.unit, bytes: buf.length },
            ),
          );
        }
      });
    });
    if (this.log.enabled("trace"))
      this.log.trace("tx", { unit: req.unit, hex: Buffer.from(frame).toString("hex") });
    // The answer can fail (port closed) while the write is still pending: mark it handled now, await it below.
    outcome.catch(() => undefined);
    try {
      await this.port.write(frame);
    } catch (e) {
      // stop the answer's timer and listeners; the write's own error is the one to report
      abort(e instanceof MeterError ? e : new MeterError("PORT_ERROR", String(e)));
      throw e;
    }
    try {
      const regs = await outcome;
      this.silentInRow = 0;
      c.reads++;
      return regs;
    } catch (e) {
      if (e instanceof MeterError) await this.count(e, c);
      throw e;
    }
  }

  private async count(e: MeterError, c: DriverCounters): Promise<void> {
    switch (e.code) {
      case "TIMEOUT":
        c.timeouts++;
        if (++this.silentInRow >= (this.opts.dropAfterSilent ?? 3) * this.units.size) {
          this.silentInRow = 0;
          await this.port.drop("line silent");
        }
        return;
      case "CRC_MISMATCH":
        c.crcErrors++;
        this.silentInRow = 0;
        return;
      case "MODBUS_EXCEPTION":
        c.exceptions++;
        this.silentInRow = 0;
        return;
      case "FRAME_INVALID":
      case "UNEXPECTED_RESPONSE":
        c.garbage++;
        this.silentInRow = 0;
        return;
      default:
        return;
    }
  }

  async close(): Promise<void> {
    await this.tail;
    await this.port.close();
  }
}
