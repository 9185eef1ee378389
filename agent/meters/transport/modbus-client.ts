import type { ReadRequest } from "../codec/modbus-pdu.js";
import type { DriverCounters } from "../types.js";

/** Per-device settings of a bus transaction. */
export interface DeviceTiming {
  /** how long to wait for the answer after the request has left (the wire time is added) */
  timeoutMs: number;
  /** extra silence before each request to this device (slow meters, converters that turn around late) */
  delayMs: number;
  /** further attempts after a timeout, CRC error or garbage; exceptions are answers and are not retried */
  retries: number;
}

/** What a Modbus meter driver needs from a transport (RTU bus or TCP connection). */
export interface ModbusClient {
  readRegisters(req: ReadRequest, timing: DeviceTiming, counters: DriverCounters): Promise<Uint16Array>;
  close(): Promise<void>;
}

export function zeroCounters(): DriverCounters {
  return { reads: 0, crcErrors: 0, timeouts: 0, exceptions: 0, reconnects: 0, garbage: 0, absent: 0 };
}
