/**
 * Turns cumulative S0 pulse counts into watt-hours and power, purely. The firmware reports the pulses
 * counted since its boot, so a lost report loses nothing; this side adds the differences, unwraps the
 * 32-bit counter, and treats a new boot id (or an uptime that went backwards) as a restart whose count
 * started again at zero. The energy total therefore only grows. Pulses counted after the last report that
 * reached the host and before a reset are lost: the MCU keeps its count in RAM.
 *
 * Wh = pulses × 1000 / pulsesPerKwh in integers, the remainder carried as a fraction over pulsesPerKwh.
 */
import { BridgeError } from "../errors.js";

const WRAP = 2 ** 32;
/** W per (pulse per ms) at 1 pulse per kWh: 1 kWh/ms = 3.6e9 W. */
const W_PER_KWH_PER_MS = 3_600_000_000;

export interface PulseReport {
  count: number;
  pulsesPerKwh: number;
  bootId: number;
  uptimeMs: number;
  lastPulseMs: number;
}

/** What must be persisted between host restarts to carry on counting without gaps or double counting. */
export interface ChannelState {
  bootId: number;
  count: number;
  uptimeMs: number;
  pulsesPerKwh: number;
  wh: number;
  /** fraction of a Wh, in units of 1/pulsesPerKwh Wh */
  remainder: number;
}

export type ReportOutcome = "baseline" | "advance" | "wrap" | "restart";

interface Sample {
  uptimeMs: number;
  lastPulseMs: number;
  pulses: number;
}

export interface PowerOptions {
  /** only pulses within this span of the latest report are averaged */
  windowMs: number;
  maxSamples: number;
}

export class PulseAccumulator {
  private st: ChannelState | undefined;
  /** pulses since the current boot as seen by the host, unwrapped */
  private bootPulses = 0;
  private history: Sample[] = [];
  private readonly power: PowerOptions;
  /** the register value the first report is credited to when there is no persisted state */
  private startWh = 0;
  restarts = 0;
  wraps = 0;

  constructor(initial?: ChannelState, power: Partial<PowerOptions> = {}) {
    if (initial !== undefined) this.st = checkState(initial);
    this.power = { windowMs: power.windowMs ?? 60_000, maxSamples: power.maxSamples ?? 32 };
  }

  get wh(): number {
    return this.st?.wh ?? 0;
  }

  state(): ChannelState | undefined {
    return this.st === undefined ? undefined : { ...this.st };
  }

  /** Starts a count at a known energy register value, e.g. the meter's display when it was fitted. */
  static startingAt(wh: number, power?: Partial<PowerOptions>): PulseAccumulator {
    const a = new PulseAccumulator(undefined, power);
    if (!Number.isSafeInteger(wh) || wh < 0) {
      throw new BridgeError("CONFIG_INVALID", `starting energy ${wh} Wh is not a non-negative integer`, {
        wh,
      });
    }
    a.startWh = wh;
    return a;
  }

  update(r: PulseReport): { outcome: ReportOutcome; pulses: number } {
    const prev = this.st;
    let outcome: ReportOutcome;
    let delta: number;
    if (prev === undefined) {
      // Pulses before the first report are unknown to us; the register starts where configured.
      this.st = { ...pick(r), wh: this.startWh, remainder: 0 };
      this.bootPulses = r.count;
      this.history = [];
      this.record(r);
      return { outcome: "baseline", pulses: 0 };
    }
    if (r.bootId !== prev.bootId || r.uptimeMs < prev.uptimeMs) {
      outcome = "restart";
      delta = r.count;
      this.restarts++;
      this.bootPulses = 0;
      this.history = [];
    } else if (r.count >= prev.count) {
      outcome = "advance";
      delta = r.count - prev.count;
    } else {
      outcome = "wrap";
      delta = r.count + WRAP - prev.count;
      this.wraps++;
    }
    let remainder = prev.remainder;
    if (r.pulsesPerKwh !== prev.pulsesPerKwh) {
      // Keep the fraction of a Wh already counted; rounding down loses less than one Wh, once.
      remainder = Math.floor((remainder * r.pulsesPerKwh) / prev.pulsesPerKwh);
    }
    const milli = remainder + delta * 1000;
    const wh = prev.wh + Math.floor(milli / r.pulsesPerKwh);
    this.st = { ...pick(r), wh, remainder: milli % r.pulsesPerKwh };
    this.bootPulses += delta;
    this.record(r);
    return { outcome, pulses: delta };
  }

  /**
   * Power from the firmware's own timestamps of pulse edges, so serial latency does not add jitter:
   * pulses between two reports divided by the time between their last edges. When the line has been quiet
   * for longer than that, power is at most one pulse over the silence, so it decays towards zero when the
   * load stops instead of freezing at the last value.
   */
  powerW(): number {
    const st = this.st;
    const last = this.history[this.history.length - 1];
    if (st === undefined || last === undefined || this.bootPulses === 0) return 0;
    let avg: number | undefined;
    for (const s of this.history) {
      if (s.pulses > 0 && s.pulses < last.pulses && s.lastPulseMs < last.lastPulseMs) {
        avg =
          ((last.pulses - s.pulses) * W_PER_KWH_PER_MS) /
          (st.pulsesPerKwh * (last.lastPulseMs - s.lastPulseMs));
        break;
      }
    }
    if (avg === undefined) return 0;
    const silence = last.uptimeMs - last.lastPulseMs;
    const bound = silence > 0 ? W_PER_KWH_PER_MS / (st.pulsesPerKwh * silence) : Number.POSITIVE_INFINITY;
    return Math.round(Math.min(avg, bound));
  }

  private record(r: PulseReport): void {
    const sample = { uptimeMs: r.uptimeMs, lastPulseMs: r.lastPulseMs, pulses: this.bootPulses };
    this.history.push(sample);
    const from = r.uptimeMs - this.power.windowMs;
    while (
      this.history.length > this.power.maxSamples ||
      (this.history.length > 1 && this.history[0].uptimeMs < from)
    ) {
      this.history.shift();
    }
  }
}

function pick(r: PulseReport): Omit<ChannelState, "wh" | "remainder"> {
  return { bootId: r.bootId, count: r.count, uptimeMs: r.uptimeMs, pulsesPerKwh: r.pulsesPerKwh };
}

function checkState(s: ChannelState): ChannelState {
  const ints: (keyof ChannelState)[] = ["bootId", "count", "uptimeMs", "pulsesPerKwh", "wh", "remainder"];
  for (const k of ints) {
    const v = s[k];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new BridgeError(
        "CONFIG_INVALID",
        `pulse state field ${k} is ${String(v)}, not a non-negative integer`,
        {
          field: k,
        },
      );
    }
  }
  if (s.pulsesPerKwh === 0 || s.remainder >= s.pulsesPerKwh || s.count >= WRAP || s.bootId >= WRAP) {
    throw new BridgeError("CONFIG_INVALID", "pulse state out of range", { state: s });
  }
  return { ...s };
}
