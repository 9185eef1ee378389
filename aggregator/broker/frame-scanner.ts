/**
 * Follows MQTT's framing on a byte stream without buffering it: each control packet starts with one
 * byte of type and flags and a Remaining Length of one to four bytes [MQTT-2.2.3], so the size of a
 * packet is known before its body arrives. The broker rejects a packet that declares more than its
 * limit before a byte of the body is kept (Aedes' parser would buffer it whole, however large).
 * Pure: no I/O, no time; `scan` is called with each chunk read from the socket.
 */

export type FrameRefusal =
  /** the first packet (CONNECT, before any login) declares more than `maxConnectBytes` */
  | "CONNECT_TOO_LARGE"
  /** a packet declares more than `maxPacketBytes` */
  | "PACKET_TOO_LARGE"
  /** a Remaining Length longer than four bytes [MQTT-2.2.3] */
  | "MALFORMED_LENGTH";

export interface FrameLimits {
  /** the largest packet, fixed header included (MQTT 5 counts Maximum Packet Size the same way) */
  maxPacketBytes: number;
  /** the largest first packet, and any packet before the login is accepted; a CONNECT carries a login
   * token, a client id and a will */
  maxConnectBytes: number;
}

export type ScanResult = { ok: true } | { ok: false; code: FrameRefusal; declaredBytes?: number };

const OK: ScanResult = { ok: true };

export class FrameScanner {
  private phase: "type" | "length" | "body" = "type";
  private length = 0;
  private lengthBytes = 0;
  private multiplier = 1;
  private bodyLeft = 0;
  private packets = 0;
  private failed: ScanResult | undefined;
  /** set once the client's login is accepted: until then every packet is held to `maxConnectBytes` */
  loggedIn = false;

  constructor(private readonly limits: FrameLimits) {}

  /** Packets whose header has been read so far. */
  get packetsSeen(): number {
    return this.packets;
  }

  /** Advances over `chunk`; once a refusal is found, every later call returns it again. */
  scan(chunk: Uint8Array): ScanResult {
    if (this.failed !== undefined) return this.failed;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.phase === "body") {
        const take = Math.min(this.bodyLeft, n - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.phase = "type";
        continue;
      }
      if (this.phase === "type") {
        i += 1;
        this.phase = "length";
        this.length = 0;
        this.lengthBytes = 0;
        this.multiplier = 1;
        continue;
      }
      const b = chunk[i++];
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      if ((b & 0x80) !== 0) {
        if (this.lengthBytes === 4) return this.fail({ ok: false, code: "MALFORMED_LENGTH" });
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      const first = this.packets === 0;
      this.packets += 1;
      if (first && total > this.limits.maxConnectBytes)
        return this.fail({ ok: false, code: "CONNECT_TOO_LARGE", declaredBytes: total });
      const max = this.loggedIn ? this.limits.maxPacketBytes : this.limits.maxConnectBytes;
      if (total > max) return this.fail({ ok: false, code: "PACKET_TOO_LARGE", declaredBytes: total });
      this.bodyLeft = this.length;
      this.phase = this.length === 0 ? "type" : "body";
    }
    return OK;
  }

  private fail(r: ScanResult): ScanResult {
    this.failed = r;
    return r;
  }
}
