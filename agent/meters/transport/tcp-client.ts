/**
 * Modbus TCP client: one connection, requests one at a time (many RTU gateways cannot interleave), a
 * fresh connection after any error, with back-off. Answers are matched by transaction id so that a late
 * answer to a timed-out request is discarded instead of being taken for the next one.
 */
import { connect, type Socket } from "node:net";
import { ConditionTracker, createLogger, type Logger } from "../../../protocol/log.js";
import { decodeReadAnswerPdu, type ReadRequest } from "../codec/modbus-pdu.js";
import { encodeTcpRequest, MbapFramer } from "../codec/modbus-tcp.js";
import { MeterError } from "../errors.js";
import type { DriverCounters } from "../types.js";
import type { Clock } from "./clock.js";
import type { DeviceTiming, ModbusClient } from "./modbus-client.js";

export interface TcpClientOptions {
  host: string;
  port: number;
  clock: Clock;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  log?: Logger;
}

export class ModbusTcpClient implements ModbusClient {
  private sock: Socket | undefined;
  private framer = new MbapFramer();
  private tid = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private waiting: ((f: { tid: number; pdu: Uint8Array } | MeterError) => void) | undefined;
  private nextAttemptAt = 0;
  private backoff: number;
  private connects = 0;
  private closed = false;
  /** socket errors of a flapping gateway: logged when the error changes, not per connection */
  private readonly trouble = new ConditionTracker();
  private readonly log: Logger;

  constructor(private readonly o: TcpClientOptions) {
    this.backoff = o.backoffMinMs ?? 100;
    this.log = o.log ?? createLogger("agent:modbus-tcp");
  }

  readRegisters(req: ReadRequest, timing: DeviceTiming, c: DriverCounters): Promise<Uint16Array> {
    const run = this.tail.then(() => this.withRetries(req, timing, c));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async withRetries(req: ReadRequest, timing: DeviceTiming, c: DriverCounters): Promise<Uint16Array> {
    let last: MeterError | undefined;
    for (let attempt = 0; attempt <= timing.retries; attempt++) {
      try {
        const regs = await this.transact(req, timing, c);
        c.reads++;
        const errors = this.trouble.leave("socket");
        if (errors !== undefined) this.log.info("modbus tcp answering again", { errors });
        return regs;
      } catch (e) {
        if (!(e instanceof MeterError)) throw e;
        last = e;
        switch (e.code) {
          case "MODBUS_EXCEPTION":
            c.exceptions++;
            throw e;
          case "TIMEOUT":
            c.timeouts++;
            break;
          case "FRAME_INVALID":
          case "UNEXPECTED_RESPONSE":
            c.garbage++;
            break;
          case "CLOSED":
            throw e;
          default:
            break;
        }
        // After any failure the stream state is unknown: start again on a fresh connection.
        this.dropSocket();
      }
    }
    throw last!;
  }

  private async ensureConnected(deadline: number, c: DriverCounters): Promise<Socket> {
    const { clock } = this.o;
    while (!this.sock) {
      if (this.closed) throw new MeterError("CLOSED", "Modbus TCP client closed");
      const wait = this.nextAttemptAt - clock.now();
      if (wait > 0) {
        if (clock.now() + wait > deadline) {
          throw new MeterError("PORT_CLOSED", `not connected to ${this.o.host}:${this.o.port} (retrying)`);
        }
        await clock.sleep(wait);
      }
      try {
        this.sock = await this.open();
        if (this.connects++ > 0) c.reconnects++;
        this.backoff = this.o.backoffMinMs ?? 100;
      } catch (e) {
        this.nextAttemptAt = clock.now() + this.backoff;
        this.backoff = Math.min(this.backoff * 2, this.o.backoffMaxMs ?? 2000);
        if (clock.now() >= deadline) {
          throw new MeterError("PORT_ERROR", `cannot connect to ${this.o.host}:${this.o.port}`, {
            cause: String(e),
          });
        }
      }
    }
    return this.sock;
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.o.host, port: this.o.port });
      s.setNoDelay(true);
      const onErr = (e: Error) => reject(e);
      s.once("error", onErr);
      s.once("connect", () => {
        s.off("error", onErr);
        this.framer = new MbapFramer();
        s.on("data", (d: Buffer) => this.onData(s, d));
        s.on("error", (e) => {
          if (this.trouble.enter("socket", e.message))
            this.log.warn("modbus tcp error", { error: e.message });
          else this.log.debug("modbus tcp error", { error: e.message });
        });
        s.on("close", () => {
          // A socket dropped on purpose is no longer current; its close must not fail the next request.
          if (this.sock !== s) return;
          this.sock = undefined;
          this.waiting?.(new MeterError("PORT_CLOSED", "connection closed during a transaction"));
        });
        resolve(s);
      });
    });
  }

  private onData(s: Socket, d: Buffer): void {
    if (this.sock !== s) return;
    const r = this.framer.push(new Uint8Array(d.buffer, d.byteOffset, d.length));
    if (r instanceof MeterError) {
      this.waiting?.(r);
      return;
    }
    for (const f of r) this.waiting?.({ tid: f.transactionId, pdu: f.pdu });
  }

  private dropSocket(): void {
    const s = this.sock;
    this.sock = undefined;
    s?.destroy();
  }

  private async transact(req: ReadRequest, timing: DeviceTiming, c: DriverCounters): Promise<Uint16Array> {
    const { clock } = this.o;
    const sock = await this.ensureConnected(clock.now() + timing.timeoutMs, c);
    if (timing.delayMs > 0) await clock.sleep(timing.delayMs);
    this.tid = (this.tid + 1) & 0xffff;
    const tid = this.tid;
    return new Promise<Uint16Array>((resolve, reject) => {
      const cancel = clock.setTimer(timing.timeoutMs, () => {
        this.waiting = undefined;
        reject(new MeterError("TIMEOUT", `no answer from ${this.o.host}:${this.o.port} unit ${req.unit}`));
      });
      this.waiting = (f) => {
        if (!(f instanceof MeterError) && f.tid !== tid) return; // a late answer to an abandoned request
        cancel();
        this.waiting = undefined;
        if (f instanceof MeterError) return reject(f);
        const regs = decodeReadAnswerPdu(f.pdu, req);
        if (regs instanceof MeterError) reject(regs);
        else resolve(regs);
      };
      sock.write(encodeTcpRequest(tid, req));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    this.dropSocket();
  }
}
