/**
 * Builds meter drivers from configuration: the one place that turns config entries into transports.
 * Meters on the same serial path share one RtuBus (one owner per port), closed with its last meter.
 */
import { readFileSync } from "node:fs";
import { createLogger, type Logger } from "../../protocol/log.js";
import { parseMeterLog } from "./codec/meter-log.js";
import { type MeterDeviceConfig, meterDeviceSchema } from "./config.js";
import { ModbusMeterDriver } from "./drivers/modbus.js";
import { ReplayMeterDriver } from "./drivers/replay.js";
import { p1Decoder, StreamMeterDriver, smlDecoder } from "./drivers/stream.js";
import { MeterError } from "./errors.js";
import { getProfile } from "./profiles/load.js";
import type { MeterProfile } from "./profiles/schema.js";
import { type Clock, systemClock } from "./transport/clock.js";
import type { DeviceTiming, ModbusClient } from "./transport/modbus-client.js";
import { RtuBus } from "./transport/rtu-bus.js";
import { type PortOpener, SerialLine, type SerialSettings } from "./transport/serial-line.js";
import { ModbusTcpClient } from "./transport/tcp-client.js";
import type { DriverCounters, MeterDriver } from "./types.js";

export interface MeterDeps {
  clock?: Clock;
  log?: Logger;
  /** profile lookup; defaults to hardware/profiles */
  profile?: (name: string) => MeterProfile;
  /** shared buses; pass one registry to every createMeterDriver call of an agent */
  buses?: BusRegistry;
  opener?: PortOpener;
  backoffMaxMs?: number;
}

const DEFAULT_TIMEOUT_MS = { modbus: 500, p1: 12_000, sml: 5_000 };

/** One RtuBus per serial path, reference-counted. */
export class BusRegistry {
  private readonly buses = new Map<string, { bus: RtuBus; users: number }>();

  acquire(settings: SerialSettings, make: () => RtuBus): ModbusClient {
    let e = this.buses.get(settings.path);
    if (!e) {
      e = { bus: make(), users: 0 };
      this.buses.set(settings.path, e);
    }
    e.users++;
    const entry = e;
    let released = false;
    return {
      readRegisters: (req, timing: DeviceTiming, c: DriverCounters) =>
        entry.bus.readRegisters(req, timing, c),
      close: async () => {
        if (released) return;
        released = true;
        if (--entry.users === 0) {
          this.buses.delete(settings.path);
          await entry.bus.close();
        }
      },
    };
  }
}

/** Modbus RTU and TCP meters differ only in their client; profile and timing come from the config. */
function modbusDriver(
  cfg: Extract<MeterDeviceConfig, { driver: "modbus-rtu" | "modbus-tcp" }>,
  profile: MeterProfile,
  client: ModbusClient,
  clock: Clock,
): MeterDriver {
  return new ModbusMeterDriver({
    id: cfg.id,
    unitId: cfg.unitId,
    profile,
    client,
    clock,
    ownsClient: true,
    timing: {
      timeoutMs: cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS.modbus,
      delayMs: cfg.delayMs,
      retries: cfg.retries,
    },
  });
}

export function createMeterDriver(input: unknown, deps: MeterDeps = {}): MeterDriver {
  const parsed = meterDeviceSchema.safeParse(input);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new MeterError("CONFIG_INVALID", `meter config: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  const cfg: MeterDeviceConfig = parsed.data;
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? createLogger("agent:meters");
  const profileOf = deps.profile ?? ((n: string) => getProfile(n));
  const line = (s: SerialSettings) =>
    new SerialLine(s, {
      clock,
      opener: deps.opener,
      backoffMaxMs: deps.backoffMaxMs,
      log: log.child("serial"),
    });

  switch (cfg.driver) {
    case "modbus-rtu": {
      const profile = profileOf(cfg.profile);
      const settings: SerialSettings = {
        path: cfg.path,
        baud: cfg.baud ?? profile.line.baud,
        parity: cfg.parity ?? profile.line.parity,
        stopBits: cfg.stopBits ?? profile.line.stopBits,
        dataBits: 8,
      };
      const buses = deps.buses ?? new BusRegistry();
      const client = buses.acquire(
        settings,
        () => new RtuBus(line(settings), { clock, log: log.child("modbus") }),
      );
      return modbusDriver(cfg, profile, client, clock);
    }
    case "modbus-tcp": {
      const profile = profileOf(cfg.profile);
      const client = new ModbusTcpClient({
        host: cfg.host,
        port: cfg.port,
        clock,
        backoffMaxMs: deps.backoffMaxMs,
        log: log.child("modbus-tcp"),
      });
      return modbusDriver(cfg, profile, client, clock);
    }
    case "dsmr": {
      const v4 = cfg.dsmrVersion === 4;
      const settings: SerialSettings = {
        path: cfg.path,
        baud: cfg.baud ?? 115200,
        dataBits: v4 ? 7 : 8,
        parity: cfg.parity ?? (v4 ? "even" : "none"),
        stopBits: cfg.stopBits ?? 1,
      };
      return new StreamMeterDriver({
        id: cfg.id,
        line: line(settings),
        decoder: p1Decoder(),
        clock,
        timeoutMs: cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS.p1,
        log: log.child("p1"),
      });
    }
    case "sml": {
      const settings: SerialSettings = {
        path: cfg.path,
        baud: cfg.baud ?? 9600,
        dataBits: 8,
        parity: cfg.parity ?? "none",
        stopBits: cfg.stopBits ?? 1,
      };
      return new StreamMeterDriver({
        id: cfg.id,
        line: line(settings),
        decoder: smlDecoder(),
        clock,
        timeoutMs: cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS.sml,
        log: log.child("sml"),
      });
    }
    case "replay": {
      let text: string;
      try {
        text = readFileSync(cfg.file, "utf8");
      } catch (e) {
        throw new MeterError("CONFIG_INVALID", `meter ${cfg.id}: cannot read replay file ${cfg.file}`, {
          cause: String(e),
        });
      }
      const { rows } = parseMeterLog(text);
      return new ReplayMeterDriver({
        id: cfg.id,
        rows,
        clock,
        speed: cfg.speed,
        loop: cfg.loop,
        timestamps: cfg.timestamps,
      });
    }
  }
}

/** Builds every configured meter, sharing buses between meters on one port. */
export function createMeterDrivers(configs: unknown[], deps: MeterDeps = {}): MeterDriver[] {
  const shared = { ...deps, buses: deps.buses ?? new BusRegistry() };
  return configs.map((c) => createMeterDriver(c, shared));
}
