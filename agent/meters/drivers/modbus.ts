/**
 * A Modbus meter: a profile's planned blocks read through a ModbusClient (RTU bus or TCP connection) and
 * decoded into one reading. The same driver serves RTU and TCP; only the client differs.
 */
import { decodeRegisters } from "../codec/registers.js";
import { isMeterError, MeterError } from "../errors.js";
import { planProfile, type ReadBlock } from "../profiles/planner.js";
import type { MeterProfile, QuantityName } from "../profiles/schema.js";
import type { Clock } from "../transport/clock.js";
import { type DeviceTiming, type ModbusClient, zeroCounters } from "../transport/modbus-client.js";
import type { DriverCounters, MeterDriver, MeterReading } from "../types.js";

export interface ModbusDriverOptions {
  id: string;
  unitId: number;
  profile: MeterProfile;
  client: ModbusClient;
  timing: DeviceTiming;
  clock: Clock;
  /** close the client with the driver (not for a bus shared by several meters) */
  ownsClient?: boolean;
}

export class ModbusMeterDriver implements MeterDriver {
  readonly id: string;
  private readonly blocks: ReadBlock[];
  private readonly c: DriverCounters = zeroCounters();

  constructor(private readonly o: ModbusDriverOptions) {
    this.id = o.id;
    this.blocks = planProfile(o.profile);
  }

  /** The reads this driver makes per reading; exposed for status pages and tests. */
  plan(): readonly ReadBlock[] {
    return this.blocks;
  }

  async read(): Promise<MeterReading> {
    const values: Partial<Record<QuantityName, number>> = {};
    for (const b of this.blocks) {
      let regs: Uint16Array;
      try {
        regs = await this.o.client.readRegisters(
          { unit: this.o.unitId, fc: b.fc, address: b.address, count: b.count },
          this.o.timing,
          this.c,
        );
      } catch (e) {
        if (b.mayBeAbsent && isMeterError(e, "MODBUS_EXCEPTION") && e.context.exception === 2) {
          this.c.absent = (this.c.absent ?? 0) + b.items.length;
          for (const it of b.items) values[it.name] = 0;
          continue;
        }
        throw e;
      }
      for (const it of b.items) {
        values[it.name] = decodeRegisters(regs, it.offset, it.spec.type, it.spec.wordOrder) * it.spec.scale;
      }
    }
    const { importWh, powerW } = values;
    if (importWh === undefined || powerW === undefined) {
      throw new MeterError("VALUE_MISSING", "profile produced no import or power value", { meter: this.id });
    }
    // Meters mark "not available" with all-ones registers (ABB: 0xFFFF…); a counter beyond 10^15 Wh or
    // below zero is such a marker or a misread, never a real count.
    for (const [name, v] of [
      ["importWh", importWh],
      ["exportWh", values.exportWh ?? 0],
    ] as const) {
      if (!(v >= 0 && v < 1e15)) {
        throw new MeterError("VALUE_INVALID", `meter ${this.id} reported an impossible ${name}: ${v}`, {
          meter: this.id,
        });
      }
    }
    const r: MeterReading = {
      meter: this.id,
      ts: this.o.clock.wallNow(),
      importWh: Math.round(importWh),
      exportWh: Math.round(values.exportWh ?? 0),
      powerW: round(powerW, 1),
    };
    if (values.voltageV !== undefined) r.voltageV = round(values.voltageV, 2);
    if (values.currentA !== undefined) r.currentA = round(values.currentA, 3);
    if (values.frequencyHz !== undefined) r.frequencyHz = round(values.frequencyHz, 3);
    return r;
  }

  counters(): DriverCounters {
    return { ...this.c };
  }

  async close(): Promise<void> {
    if (this.o.ownsClient) await this.o.client.close();
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
