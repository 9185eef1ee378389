/**
 * The host's side of a firmware-bridge session as a pure transition function: inputs are decoded frames,
 * decode errors, requests and clock ticks (timeouts arrive as ticks, the machine owns no timer); outputs
 * are frames to send and events. One request is on the wire at a time, because the MCU answers in order
 * from a small buffer; a request is resent with the same sequence number until answered, so a lost answer
 * repeats an idempotent command (relay states and configuration are absolute, never toggles).
 */

import { FLAG_RESPONSE, type Frame } from "../codec/frame.js";
import {
  type Envelope,
  fromFrame,
  type Message,
  type MessageKind,
  nackName,
  toFrame,
} from "../codec/messages.js";
import { BridgeError } from "../errors.js";

export type HelloMessage = Extract<Message, { kind: "hello" }>;

export type Request =
  | { kind: "helloRequest" }
  | { kind: "ping"; nonce: Uint8Array }
  | { kind: "pulseGet"; channel: number }
  | { kind: "pulseConfig"; channel: number; pulsesPerKwh: number; debounceMs: number }
  | { kind: "relaySet"; channel: number; on: boolean }
  | { kind: "relayGet"; channel: number };

export type Input =
  | { kind: "start"; now: number }
  | { kind: "frame"; frame: Frame; now: number }
  | { kind: "decodeError"; error: BridgeError; now: number }
  | { kind: "request"; id: number; request: Request; now: number }
  | { kind: "tick"; now: number }
  /** the transport reopened the port: whatever is at the other end now must introduce itself */
  | { kind: "relink"; now: number }
  | { kind: "stop" };

export type Output =
  | { kind: "send"; frame: Frame }
  | { kind: "connected"; hello: HelloMessage }
  /** the firmware announced a different boot than the one we knew: its counters started again */
  | { kind: "restarted"; hello: HelloMessage; previousBootId: number }
  | { kind: "disconnected"; reason: string }
  /** anything the firmware sent, answers included, after checking: pulse counts, relay states, faults */
  | { kind: "message"; msg: Message; response: boolean }
  | { kind: "reply"; id: number; msg: Message }
  | { kind: "failed"; id: number; error: BridgeError }
  /** a frame that was refused; counted and logged by the shell */
  | { kind: "rejected"; error: BridgeError };

export interface SessionOptions {
  /** how long to wait for an answer before resending */
  responseTimeoutMs: number;
  /** transmissions per request, the first included */
  maxAttempts: number;
  /** how often to ask for HELLO while no firmware has answered */
  helloIntervalMs: number;
  /** silence after which the link is probed with PING */
  idleMs: number;
  /** how long a request may wait for a connection before it fails */
  queueTimeoutMs: number;
}

export const defaultSessionOptions: SessionOptions = {
  responseTimeoutMs: 400,
  maxAttempts: 4,
  helloIntervalMs: 500,
  idleMs: 3000,
  queueTimeoutMs: 10_000,
};

const EXPECT: Record<Request["kind"], MessageKind> = {
  helloRequest: "hello",
  ping: "pong",
  pulseGet: "pulseCount",
  pulseConfig: "ack",
  relaySet: "relayState",
  relayGet: "relayState",
};

/** ids below zero are the machine's own (handshake, liveness); they never appear in outputs */
const INTERNAL = -1;

interface InFlight {
  id: number;
  request: Request;
  frame: Frame;
  attempts: number;
  deadline: number;
}

interface Queued {
  id: number;
  request: Request;
  since: number;
}

export type Phase = "idle" | "handshake" | "ready" | "stopped";

export class SessionMachine {
  private phase: Phase = "idle";
  private seq = 0;
  private inFlight: InFlight | undefined;
  private queue: Queued[] = [];
  private lastRx = 0;
  private nextHello = 0;
  private bootId: number | undefined;
  private readonly opts: SessionOptions;
  hello: HelloMessage | undefined;

  constructor(opts: Partial<SessionOptions> = {}) {
    this.opts = { ...defaultSessionOptions, ...opts };
  }

  get state(): Phase {
    return this.phase;
  }

  step(input: Input): Output[] {
    const out: Output[] = [];
    switch (input.kind) {
      case "start":
        this.phase = "handshake";
        this.lastRx = input.now;
        this.nextHello = input.now;
        break;
      case "stop":
        this.phase = "stopped";
        for (const q of this.drain()) {
          out.push({ kind: "failed", id: q.id, error: new BridgeError("CLOSED", "bridge closed", {}) });
        }
        return out;
      case "frame":
        this.lastRx = input.now;
        this.onFrame(input.frame, input.now, out);
        break;
      case "decodeError":
        out.push({ kind: "rejected", error: input.error });
        break;
      case "request":
        if (this.phase === "stopped") {
          out.push({ kind: "failed", id: input.id, error: new BridgeError("CLOSED", "bridge closed", {}) });
          return out;
        }
        this.queue.push({ id: input.id, request: input.request, since: input.now });
        break;
      case "tick":
        this.onTick(input.now, out);
        break;
      case "relink":
        if (this.phase === "ready") this.lose(input.now, out, "port reopened");
        break;
    }
    this.pump(input.now, out);
    return out;
  }

  private drain(): { id: number }[] {
    const all: { id: number }[] = [...this.queue];
    if (this.inFlight !== undefined) all.unshift(this.inFlight);
    this.queue = [];
    this.inFlight = undefined;
    return all.filter((q) => q.id !== INTERNAL);
  }

  private onFrame(frame: Frame, now: number, out: Output[]): void {
    let env: Envelope;
    try {
      env = fromFrame(frame);
    } catch (e) {
      if (!(e instanceof BridgeError)) throw e;
      out.push({ kind: "rejected", error: e });
      // A valid header with a payload we refuse still answers our request: fail it rather than resend.
      const f = this.inFlight;
      if (f !== undefined && (frame.flags & FLAG_RESPONSE) !== 0 && frame.seq === f.frame.seq) {
        this.finish(out, { kind: "failed", id: f.id, error: e });
      }
      return;
    }
    const { msg } = env;
    if (msg.kind === "hello") this.onHello(msg, out);
    // A report from a boot we were not introduced to means the firmware reset and its HELLO was lost
    // (sent while the port was away): ask again, so that the restart is reported with the new HELLO.
    if (msg.kind === "pulseCount" && this.phase === "ready" && msg.bootId !== this.bootId) {
      this.lose(now, out, `reports from unannounced boot ${msg.bootId}`);
    }
    if (msg.kind !== "hello" || this.phase === "ready")
      out.push({ kind: "message", msg, response: env.response });
    const f = this.inFlight;
    if (!env.response || f === undefined || env.seq !== f.frame.seq) return;
    if (msg.kind === "nack") {
      const error = new BridgeError("NACK", `firmware refused ${f.request.kind}: ${nackName(msg.code)}`, {
        request: f.request.kind,
        nack: nackName(msg.code),
      });
      this.finish(out, { kind: "failed", id: f.id, error });
      return;
    }
    if (msg.kind !== EXPECT[f.request.kind] || !sameChannel(f.request, msg)) {
      out.push({
        kind: "rejected",
        error: new BridgeError(
          "PAYLOAD_INVALID",
          `answer ${msg.kind} does not fit request ${f.request.kind}`,
          {
            seq: env.seq,
          },
        ),
      });
      return;
    }
    this.finish(out, { kind: "reply", id: f.id, msg });
  }

  private finish(out: Output[], o: Extract<Output, { kind: "reply" | "failed" }>): void {
    this.inFlight = undefined;
    if (o.id !== INTERNAL) out.push(o);
  }

  private onHello(msg: HelloMessage, out: Output[]): void {
    const prev = this.bootId;
    this.bootId = msg.bootId;
    this.hello = msg;
    if (this.phase !== "ready") {
      this.phase = "ready";
      out.push({ kind: "connected", hello: msg });
      if (prev !== undefined && prev !== msg.bootId)
        out.push({ kind: "restarted", hello: msg, previousBootId: prev });
    } else if (prev !== msg.bootId) {
      out.push({ kind: "restarted", hello: msg, previousBootId: prev ?? 0 });
    }
  }

  private onTick(now: number, out: Output[]): void {
    const f = this.inFlight;
    if (f !== undefined && now >= f.deadline) {
      if (f.attempts < this.opts.maxAttempts) {
        f.attempts++;
        f.deadline = now + this.opts.responseTimeoutMs;
        out.push({ kind: "send", frame: f.frame });
      } else {
        this.inFlight = undefined;
        if (f.id === INTERNAL) {
          if (this.phase === "ready") this.lose(now, out, `no answer to ${f.request.kind}`);
        } else {
          out.push({
            kind: "failed",
            id: f.id,
            error: new BridgeError("TIMEOUT", `no answer to ${f.request.kind} after ${f.attempts} attempts`, {
              request: f.request.kind,
              attempts: f.attempts,
            }),
          });
        }
      }
    }
    const stale = this.queue.filter(
      (q) => this.phase !== "ready" && now - q.since >= this.opts.queueTimeoutMs,
    );
    for (const q of stale) {
      this.queue.splice(this.queue.indexOf(q), 1);
      out.push({
        kind: "failed",
        id: q.id,
        error: new BridgeError(
          "NOT_CONNECTED",
          `no firmware answered within ${this.opts.queueTimeoutMs} ms`,
          {
            request: q.request.kind,
          },
        ),
      });
    }
    if (this.phase === "ready" && this.inFlight === undefined && this.queue.length === 0) {
      if (now - this.lastRx >= this.opts.idleMs)
        this.queue.push({ id: INTERNAL, request: pingRequest(), since: now });
    }
  }

  private lose(now: number, out: Output[], reason: string): void {
    this.phase = "handshake";
    this.nextHello = now;
    out.push({ kind: "disconnected", reason });
  }

  private pump(now: number, out: Output[]): void {
    if (this.inFlight !== undefined || this.phase === "idle" || this.phase === "stopped") return;
    if (this.phase === "handshake") {
      if (now < this.nextHello) return;
      this.nextHello = now + this.opts.helloIntervalMs;
      // One attempt per HELLO; the handshake repeats it for as long as it takes.
      this.transmit(
        { id: INTERNAL, request: { kind: "helloRequest" }, since: now },
        now,
        out,
        this.opts.maxAttempts,
      );
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) this.transmit(next, now, out, 1);
  }

  private transmit(q: Queued, now: number, out: Output[], attempts: number): void {
    const frame = toFrame(q.request, this.seq);
    this.seq = (this.seq + 1) & 0xff;
    this.inFlight = {
      id: q.id,
      request: q.request,
      frame,
      attempts,
      deadline: now + this.opts.responseTimeoutMs,
    };
    out.push({ kind: "send", frame });
  }
}

function pingRequest(): Request {
  return { kind: "ping", nonce: new Uint8Array([0x67, 0x6c]) };
}

function sameChannel(req: Request, msg: Message): boolean {
  if (!("channel" in req)) return true;
  return "channel" in msg ? msg.channel === req.channel : true;
}
