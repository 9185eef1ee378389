/**
 * An S0 pulse meter behind the firmware bridge, as a `MeterDriver`: the agent reads it like a Modbus
 * meter. Import (and optionally export) energy come from cumulative pulse counts on configured channels;
 * power is derived from the pulse rate, positive importing and negative exporting.
 */
import type { DriverCounters, MeterDriver, MeterReading } from "../agent/meters/types.js";
import type { FirmwareBridge, PulseCountMessage } from "./bridge.js";
import { BridgeError } from "./errors.js";
import { type ChannelState, type PowerOptions, PulseAccumulator } from "./session/energy.js";

export interface S0DriverOptions {
  id: string;
  importChannel: number;
  exportChannel?: number;
  /** wall clock for reading timestamps (ms since the epoch) */
  wallNow: () => number;
  /** persisted state from `state()`, to carry on after an agent restart */
  state?: { import?: ChannelState; export?: ChannelState };
  /** energy registers to start from when there is no persisted state (e.g. the meter's display) */
  startWh?: { import?: number; export?: number };
  power?: Partial<PowerOptions>;
}

export class S0MeterDriver implements MeterDriver {
  readonly id: string;
  private readonly imp: PulseAccumulator;
  private readonly exp: PulseAccumulator | undefined;
  private readonly unsubscribe: () => void;
  private readonly c: DriverCounters = {
    reads: 0,
    crcErrors: 0,
    timeouts: 0,
    exceptions: 0,
    reconnects: 0,
    garbage: 0,
  };

  constructor(
    private readonly bridge: FirmwareBridge,
    private readonly opts: S0DriverOptions,
    /** ownsBridge: close() closes the bridge too (the driver was built for it alone) */
    private readonly ownership: { ownsBridge: boolean } = { ownsBridge: false },
  ) {
    this.id = opts.id;
    if (opts.exportChannel !== undefined && opts.exportChannel === opts.importChannel) {
      throw new BridgeError("CONFIG_INVALID", `import and export both on channel ${opts.importChannel}`, {
        meter: opts.id,
      });
    }
    this.imp = make(opts.state?.import, opts.startWh?.import, opts.power);
    this.exp =
      opts.exportChannel === undefined
        ? undefined
        : make(opts.state?.export, opts.startWh?.export, opts.power);
    this.unsubscribe = bridge.on({
      pulse: (m) => this.onPulse(m),
      restarted: () => this.c.reconnects++,
      disconnected: () => this.c.reconnects++,
    });
  }

  async read(): Promise<MeterReading> {
    try {
      await this.bridge.readPulses(this.opts.importChannel);
      if (this.opts.exportChannel !== undefined) await this.bridge.readPulses(this.opts.exportChannel);
    } catch (e) {
      if (e instanceof BridgeError && e.code === "TIMEOUT") this.c.timeouts++;
      else if (e instanceof BridgeError && e.code === "NACK") this.c.exceptions++;
      throw e;
    }
    this.c.reads++;
    const bc = this.bridge.counters;
    this.c.crcErrors = bc.crcErrors;
    this.c.garbage = bc.badFrames;
    return {
      meter: this.id,
      ts: this.opts.wallNow(),
      importWh: this.imp.wh,
      exportWh: this.exp?.wh ?? 0,
      powerW: this.imp.powerW() - (this.exp?.powerW() ?? 0),
    };
  }

  counters(): DriverCounters {
    return { ...this.c };
  }

  /** What to persist so that a restarted agent neither loses nor double-counts pulses. */
  state(): { import?: ChannelState; export?: ChannelState } {
    return { import: this.imp.state(), export: this.exp?.state() };
  }

  async close(): Promise<void> {
    this.unsubscribe();
    if (this.ownership.ownsBridge) await this.bridge.close();
  }

  private onPulse(m: PulseCountMessage): void {
    const acc =
      m.channel === this.opts.importChannel
        ? this.imp
        : m.channel === this.opts.exportChannel
          ? this.exp
          : undefined;
    acc?.update(m);
  }
}

function make(
  state: ChannelState | undefined,
  startWh: number | undefined,
  power?: Partial<PowerOptions>,
): PulseAccumulator {
  if (state !== undefined) return new PulseAccumulator(state, power);
  return PulseAccumulator.startingAt(startWh ?? 0, power);
}
