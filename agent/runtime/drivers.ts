import type { MeterDriver, MeterReading } from "../meters/types.js";
import { AgentRuntimeError } from "./errors.js";

/** Builds one driver from one `meters:` entry of the agent configuration. */
export type DriverFactory = (entry: Record<string, unknown>) => MeterDriver | Promise<MeterDriver>;

/**
 * A synthetic meter (`type: synthetic`) that needs no hardware: a constant power integrated over the
 * clock into exact Wh, optionally only `readings` times. It exists for smoke tests of the agent ↔ aggregator path and for demos; real
 * meters and log replay come from agent/meters.
 */
export function syntheticDriver(entry: Record<string, unknown>, now: () => number = Date.now): MeterDriver {
  const id = entry.id;
  const powerW = entry.powerW ?? 1000;
  if (typeof id !== "string" || id === "")
    throw new AgentRuntimeError("METER_CONFIG", "meters[].id must be a string");
  if (typeof powerW !== "number" || !Number.isFinite(powerW)) {
    throw new AgentRuntimeError("METER_CONFIG", `meter "${id}": powerW must be a number`);
  }
  const limit = entry.readings;
  if (limit !== undefined && (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0)) {
    throw new AgentRuntimeError("METER_CONFIG", `meter "${id}": readings must be a non-negative integer`);
  }
  const start = now();
  const base = typeof entry.startWh === "number" ? entry.startWh : 0;
  let reads = 0;
  return {
    id,
    read: async (): Promise<MeterReading> => {
      // A finite run lets tests account for every reading produced.
      if (limit !== undefined && reads >= limit)
        throw new AgentRuntimeError("METER_CONFIG", `meter "${id}" is exhausted`);
      reads += 1;
      const ts = now();
      const wh = Math.floor((Math.abs(powerW) * (ts - start)) / 3_600_000);
      return {
        meter: id,
        ts,
        importWh: base + (powerW >= 0 ? wh : 0),
        exportWh: powerW < 0 ? wh : 0,
        powerW,
      };
    },
    counters: () => ({ reads, crcErrors: 0, timeouts: 0, exceptions: 0, reconnects: 0, garbage: 0 }),
    close: async () => undefined,
  };
}

type FactoryModule = {
  createMeterDriver?: (entry: Record<string, unknown>) => MeterDriver | Promise<MeterDriver>;
};

/**
 * The meter section's factory (agent/meters), found at run time so that the agent builds while that
 * section grows; `synthetic` meters are served here.
 */
export async function defaultDriverFactory(): Promise<DriverFactory> {
  let meters: FactoryModule["createMeterDriver"];
  for (const path of ["../meters/factory.js", "../meters/index.js", "../meters/config.js"]) {
    try {
      const mod = (await import(path)) as FactoryModule;
      if (typeof mod.createMeterDriver === "function") {
        meters = mod.createMeterDriver;
        break;
      }
    } catch {
      // not there (yet): try the next place
    }
  }
  return (entry) => {
    if (entry.type === "synthetic") return syntheticDriver(entry);
    if (meters === undefined) {
      throw new AgentRuntimeError(
        "METER_CONFIG",
        `meter type ${JSON.stringify(entry.type)} is not available in this build (only "synthetic")`,
      );
    }
    return meters(entry);
  };
}
