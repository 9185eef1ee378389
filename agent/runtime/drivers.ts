import type { Logger } from "../../protocol/log.js";
import { BusRegistry, createMeterDriver } from "../meters/factory.js";
import type { MeterDriver, MeterReading } from "../meters/types.js";
import { AgentRuntimeError } from "./errors.js";

/** Builds one driver from one `meters:` entry of the agent configuration. */
export type DriverFactory = (entry: Record<string, unknown>) => MeterDriver | Promise<MeterDriver>;

/**
 * A synthetic meter (`driver: synthetic`) that needs no hardware: a constant power integrated over the
 * clock since the Unix epoch into exact Wh (plus `startWh`), optionally only `readings` times. Like a
 * real meter's, its registers keep rising across restarts of the agent: the aggregator refuses a register
 * that runs backwards. It exists for smoke tests of the agent ↔ aggregator path and for demos; real
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
      const wh = Math.floor((Math.abs(powerW) * ts) / 3_600_000);
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

/**
 * The agent's factory: `driver: synthetic` is served here, everything else by agent/meters (Modbus RTU
 * and TCP, DSMR P1, SML, replay), with one bus registry so that meters on one serial port share it.
 */
export function defaultDriverFactory(log: Logger): DriverFactory {
  const buses = new BusRegistry();
  return (entry) =>
    entry.driver === "synthetic"
      ? syntheticDriver(entry)
      : createMeterDriver(entry, { buses, log: log.child("meters") });
}
