import { Duplex } from "node:stream";
import { type FrameLimits, type FrameRefusal, FrameScanner } from "./frame-scanner.js";

/**
 * A client socket as Aedes sees it, with MQTT's framing checked on the way in: every chunk is scanned
 * (aggregator/broker/frame-scanner.ts) before it is passed on, so a packet that declares more than the
 * limit closes the connection before its body is buffered anywhere. Writes go straight to the socket.
 * Works over any duplex byte stream (TCP, TLS).
 */
export class GuardedConnection extends Duplex {
  private readonly scanner: FrameScanner;
  private authenticated_ = false;
  /** the identity that logged in on this connection */
  identity: string | undefined;

  constructor(
    readonly socket: Duplex & { remoteAddress?: string | undefined },
    limits: FrameLimits,
    onRefusal: (code: FrameRefusal, declaredBytes: number | undefined) => void,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new FrameScanner(limits);
    socket.on("data", (chunk: Buffer) => {
      const r = this.scanner.scan(chunk);
      if (!r.ok) {
        socket.pause();
        onRefusal(r.code, r.declaredBytes);
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (e) => this.destroy(e));
    socket.on("close", () => {
      if (!this.destroyed) this.destroy();
    });
  }

  /** true once the client's login has been accepted (its packets may then be up to maxPacketBytes) */
  get authenticated(): boolean {
    return this.authenticated_;
  }

  set authenticated(v: boolean) {
    this.authenticated_ = v;
    this.scanner.loggedIn = v;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    if (this.socket.write(chunk, encoding)) done();
    else this.socket.once("drain", () => done());
  }

  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    this.socket.cork();
    let ok = true;
    for (const c of chunks) ok = this.socket.write(c.chunk);
    this.socket.uncork();
    if (ok) done();
    else this.socket.once("drain", () => done());
  }

  override _final(done: (e?: Error | null) => void): void {
    this.socket.end(() => done());
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }
}
