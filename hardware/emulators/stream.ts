/**
 * DSMR P1 and SML emitters: write one telegram or SML file every `intervalMs` to their end of a pty
 * pair, as the meters push them unasked. Faults apply to the next frames.
 */
import { buildTelegram } from "../../agent/meters/codec/dsmr.js";
import { encodeSmlFile } from "../../agent/meters/codec/sml-encode.js";
import { type Clock, systemClock } from "../../agent/meters/transport/clock.js";
import { FaultQueue, noise } from "./faults.js";
import { type EmulatorPort, openEmulatorPort } from "./serial-end.js";
import type { MeterState, StateSource } from "./state.js";

export type StreamKind = "p1" | "sml";

export interface StreamEmitterOptions {
  kind: StreamKind;
  link: string;
  baud: number;
  state: StateSource;
  intervalMs: number;
  /** DSMR 4 lines are 7E1; on a pty this only shows that the setting is passed through */
  dsmrVersion?: 4 | 5;
  clock?: Clock;
}

function kwh(wh: number): string {
  const w = Math.max(0, Math.round(wh));
  return `${String(Math.floor(w / 1000)).padStart(6, "0")}.${String(w % 1000).padStart(3, "0")}`;
}
function kw(w: number): string {
  const v = Math.max(0, Math.round(w));
  return `${String(Math.floor(v / 1000)).padStart(2, "0")}.${String(v % 1000).padStart(3, "0")}`;
}

/** A DSMR 5 telegram carrying the state: import and export split over two tariffs as real meters do. */
export function p1Telegram(s: MeterState, version: 4 | 5 = 5): string {
  const t1 = Math.floor(s.importWh / 2);
  const e1 = Math.floor(s.exportWh / 2);
  return buildTelegram("GRD5\\2EMULATED-P1", [
    `1-3:0.2.8(${version === 5 ? "50" : "42"})`,
    "0-0:96.1.1(475249444C4554454D55)",
    `1-0:1.8.1(${kwh(t1)}*kWh)`,
    `1-0:1.8.2(${kwh(s.importWh - t1)}*kWh)`,
    `1-0:2.8.1(${kwh(e1)}*kWh)`,
    `1-0:2.8.2(${kwh(s.exportWh - e1)}*kWh)`,
    "0-0:96.14.0(0001)",
    `1-0:1.7.0(${kw(s.powerW)}*kW)`,
    `1-0:2.7.0(${kw(-s.powerW)}*kW)`,
    `1-0:32.7.0(${s.voltageV.toFixed(1).padStart(5, "0")}*V)`,
    `1-0:31.7.0(${String(Math.round(s.currentA)).padStart(3, "0")}*A)`,
  ]);
}

export class StreamEmitter {
  readonly faults = new FaultQueue();
  sent = 0;
  private port: EmulatorPort | undefined;
  private cancel: (() => void) | undefined;
  private stopped = false;
  private readonly clock: Clock;

  private constructor(private readonly o: StreamEmitterOptions) {
    this.clock = o.clock ?? systemClock;
  }

  static async start(o: StreamEmitterOptions): Promise<StreamEmitter> {
    const e = new StreamEmitter(o);
    await e.open();
    e.schedule();
    return e;
  }

  private async open(): Promise<void> {
    const v4 = this.o.kind === "p1" && this.o.dsmrVersion === 4;
    this.port = await openEmulatorPort(this.o.link, this.o.baud, () => undefined, {
      dataBits: v4 ? 7 : 8,
      parity: v4 ? "even" : "none",
    });
  }

  private schedule(): void {
    this.cancel = this.clock.setTimer(this.o.intervalMs, () => {
      void this.emit().finally(() => {
        if (!this.stopped) this.schedule();
      });
    });
  }

  frame(): Uint8Array {
    const s = this.o.state();
    if (this.o.kind === "p1") return Buffer.from(p1Telegram(s, this.o.dsmrVersion ?? 5), "latin1");
    return encodeSmlFile({ importWh: s.importWh, exportWh: s.exportWh, powerW: s.powerW, seq: this.sent });
  }

  private async emit(): Promise<void> {
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
    let f = this.frame();
    if (fault?.kind === "bad-crc") {
      f = Uint8Array.from(f);
      // change a payload byte, not the framing, so the frame is found but its CRC fails
      f[Math.floor(f.length / 2)] ^= 0x01;
    }
    if (fault?.kind === "garbage") f = Uint8Array.from([...noise(fault.bytes ?? 16), ...f]);
    this.port?.write(f);
    this.sent++;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    await this.port?.close();
  }
}
