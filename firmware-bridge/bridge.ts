/**
 * The thin shell around the pure session machine: owns the port, the stream decoder and the tick timer,
 * turns requests into promises and machine outputs into listener calls, and counts every rejected frame.
 * A port that vanishes ends the bridge (`closed`) unless it comes from `reconnectingOpener`, which reopens
 * it by path; then the session simply handshakes again.
 */

import { createLogger, type Logger } from "../protocol/log.js";
import type { Frame } from "./codec/frame.js";
import { encodeFrame } from "./codec/frame.js";
import { faultName, type Message } from "./codec/messages.js";
import { FrameDecoder } from "./codec/stream.js";
import { BridgeError } from "./errors.js";
import {
  type HelloMessage,
  type Input,
  type Output,
  type Request,
  SessionMachine,
  type SessionOptions,
} from "./session/machine.js";
import type { BridgePort, PortOpener } from "./transport/port.js";

export type PulseCountMessage = Extract<Message, { kind: "pulseCount" }>;
export type RelayStateMessage = Extract<Message, { kind: "relayState" }>;
export type FaultMessage = Extract<Message, { kind: "fault" }>;

/** Time as a seam: monotonic milliseconds and a repeating timer. */
export interface BridgeClock {
  now(): number;
  every(ms: number, fn: () => void): () => void;
}

export const systemBridgeClock: BridgeClock = {
  now: () => performance.now(),
  every: (ms, fn) => {
    const h = setInterval(fn, ms);
    return () => clearInterval(h);
  },
};

export interface BridgeCounters {
  framesIn: number;
  framesOut: number;
  crcErrors: number;
  /** frames refused for any other reason: COBS, length, version, payload */
  badFrames: number;
  nacks: number;
  timeouts: number;
  restarts: number;
  disconnects: number;
  faults: number;
  writeErrors: number;
}

export interface BridgeListeners {
  pulse?(msg: PulseCountMessage): void;
  relay?(msg: RelayStateMessage): void;
  fault?(msg: FaultMessage): void;
  connected?(hello: HelloMessage): void;
  restarted?(hello: HelloMessage, previousBootId: number): void;
  disconnected?(reason: string): void;
  closed?(error?: Error): void;
}

export interface BridgeOptions {
  open: PortOpener;
  clock?: BridgeClock;
  session?: Partial<SessionOptions>;
  tickMs?: number;
  log?: Logger;
}

export class FirmwareBridge {
  private readonly machine: SessionMachine;
  private readonly decoder = new FrameDecoder();
  private readonly clock: BridgeClock;
  private readonly log: Logger;
  private readonly pending = new Map<number, { resolve(m: Message): void; reject(e: BridgeError): void }>();
  private readonly listeners: BridgeListeners[] = [];
  private readonly waiters: ((h: HelloMessage) => void)[] = [];
  private port: BridgePort | undefined;
  private stopTimer: (() => void) | undefined;
  private nextId = 1;
  private isClosed = false;
  readonly counters: BridgeCounters = {
    framesIn: 0,
    framesOut: 0,
    crcErrors: 0,
    badFrames: 0,
    nacks: 0,
    timeouts: 0,
    restarts: 0,
    disconnects: 0,
    faults: 0,
    writeErrors: 0,
  };

  private constructor(opts: BridgeOptions) {
    this.machine = new SessionMachine(opts.session);
    this.clock = opts.clock ?? systemBridgeClock;
    this.log = opts.log ?? createLogger("firmware-bridge");
  }

  private relink(): void {
    if (!this.isClosed) this.feed({ kind: "relink", now: this.clock.now() });
  }

  static async open(opts: BridgeOptions): Promise<FirmwareBridge> {
    const b = new FirmwareBridge(opts);
    b.port = await opts.open({
      onData: (bytes) => b.onData(bytes),
      onClose: (e) => b.onPortClosed(e),
      onReopen: () => b.relink(),
    });
    b.stopTimer = b.clock.every(opts.tickMs ?? 20, () => b.feed({ kind: "tick", now: b.clock.now() }));
    b.feed({ kind: "start", now: b.clock.now() });
    return b;
  }

  on(l: BridgeListeners): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  get hello(): HelloMessage | undefined {
    return this.machine.state === "ready" ? this.machine.hello : undefined;
  }

  /** Resolves at the next (or current) handshake. */
  waitConnected(): Promise<HelloMessage> {
    const h = this.hello;
    if (h !== undefined) return Promise.resolve(h);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  request(req: Request): Promise<Message> {
    const id = this.nextId++;
    return new Promise<Message>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.feed({ kind: "request", id, request: req, now: this.clock.now() });
    });
  }

  async readPulses(channel: number): Promise<PulseCountMessage> {
    return (await this.request({ kind: "pulseGet", channel })) as PulseCountMessage;
  }

  async configurePulses(channel: number, pulsesPerKwh: number, debounceMs: number): Promise<void> {
    await this.request({ kind: "pulseConfig", channel, pulsesPerKwh, debounceMs });
  }

  /**
   * Switches a relay and returns once the firmware reports the commanded state, read back from the
   * contactor's auxiliary contact when the board has one; anything else is RELAY_NOT_CONFIRMED, because a
   * trading contract must not believe a seller is connected when the contactor did not close.
   */
  async setRelay(channel: number, on: boolean): Promise<RelayStateMessage> {
    const st = (await this.request({ kind: "relaySet", channel, on })) as RelayStateMessage;
    if (st.on !== on || (st.feedback !== null && st.feedback !== on)) {
      throw new BridgeError(
        "RELAY_NOT_CONFIRMED",
        `relay ${channel} commanded ${on ? "on" : "off"} but reports ${describeRelay(st)}`,
        {
          channel,
          commanded: on,
          reported: st.on,
          feedback: st.feedback,
        },
      );
    }
    return st;
  }

  async relayState(channel: number): Promise<RelayStateMessage> {
    return (await this.request({ kind: "relayGet", channel })) as RelayStateMessage;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stopTimer?.();
    this.feed({ kind: "stop" });
    await this.port?.close();
  }

  /** Writes raw bytes around the codec; for line tests and diagnostics only. */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    await this.port?.write(bytes);
  }

  private onData(bytes: Uint8Array): void {
    if (this.log.enabled("trace")) this.log.trace("rx", { bytes: Buffer.from(bytes).toString("hex") });
    const now = this.clock.now();
    for (const item of this.decoder.push(bytes)) {
      if (item.ok) this.feed({ kind: "frame", frame: item.frame, now });
      else this.feed({ kind: "decodeError", error: item.error, now });
    }
  }

  private onPortClosed(e?: Error): void {
    if (this.isClosed) return;
    this.log.warn("serial port closed", { error: e?.message });
    this.isClosed = true;
    this.stopTimer?.();
    this.feed({ kind: "stop" });
    for (const l of this.listeners) l.closed?.(e);
  }

  private feed(input: Input): void {
    for (const o of this.machine.step(input)) this.apply(o);
  }

  private apply(o: Output): void {
    switch (o.kind) {
      case "send":
        this.send(o.frame);
        return;
      case "connected":
        this.log.info("firmware connected", {
          deviceId: o.hello.deviceId,
          bootId: o.hello.bootId,
          fw: `${o.hello.fw.major}.${o.hello.fw.minor}.${o.hello.fw.patch}`,
        });
        for (const w of this.waiters.splice(0)) w(o.hello);
        for (const l of this.listeners) l.connected?.(o.hello);
        return;
      case "restarted":
        this.counters.restarts++;
        this.log.warn("firmware restarted", { previousBootId: o.previousBootId, bootId: o.hello.bootId });
        for (const l of this.listeners) l.restarted?.(o.hello, o.previousBootId);
        return;
      case "disconnected":
        this.counters.disconnects++;
        this.log.warn("firmware link lost", { reason: o.reason });
        for (const l of this.listeners) l.disconnected?.(o.reason);
        return;
      case "message":
        this.counters.framesIn++;
        this.dispatch(o.msg);
        return;
      case "reply":
        this.pending.get(o.id)?.resolve(o.msg);
        this.pending.delete(o.id);
        return;
      case "failed":
        if (o.error.code === "NACK") this.counters.nacks++;
        if (o.error.code === "TIMEOUT") this.counters.timeouts++;
        this.pending.get(o.id)?.reject(o.error);
        this.pending.delete(o.id);
        return;
      case "rejected":
        if (o.error.code === "FRAME_CRC") this.counters.crcErrors++;
        else this.counters.badFrames++;
        this.log.debug("frame rejected", { code: o.error.code, reason: o.error.message });
        return;
    }
  }

  private dispatch(msg: Message): void {
    switch (msg.kind) {
      case "pulseCount":
        for (const l of this.listeners) l.pulse?.(msg);
        return;
      case "relayState":
        for (const l of this.listeners) l.relay?.(msg);
        return;
      case "fault":
        this.counters.faults++;
        this.log.warn("firmware fault", {
          fault: faultName(msg.code),
          channel: msg.channel,
          detail: msg.detail,
        });
        for (const l of this.listeners) l.fault?.(msg);
        return;
      default:
        return;
    }
  }

  private send(frame: Frame): void {
    const bytes = encodeFrame(frame);
    if (this.log.enabled("trace")) this.log.trace("tx", { bytes: Buffer.from(bytes).toString("hex") });
    this.counters.framesOut++;
    const port = this.port;
    if (port === undefined) return;
    // A failed write surfaces as a timeout of the request and, if the port is gone, as `closed` or (with
    // a reopening port) as `disconnected`; the count says how often, the debug log why.
    port.write(bytes).catch((e: unknown) => {
      this.counters.writeErrors++;
      this.log.debug("write failed", { error: String(e) });
    });
  }
}

function describeRelay(st: RelayStateMessage): string {
  const fb = st.feedback === null ? "no feedback" : `feedback ${st.feedback ? "closed" : "open"}`;
  return `${st.on ? "on" : "off"}, ${fb}`;
}
