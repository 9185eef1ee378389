import type { AuthenticateError, Client, PublishPacket, Subscription } from "#aedes";
import { BurstLog } from "../../protocol/burst-log.js";
import { describeError, isGridletError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";
import { mayPublish, maySubscribe } from "./acl.js";
import type { FrameRefusal } from "./frame-scanner.js";
import { GuardedConnection } from "./guarded-connection.js";
import { type BrokerLimits, RetainedQuota, TokenBucket } from "./limits.js";
import type { BrokerIdentity, LoginVerifier } from "./login.js";

/** Why the broker refused or slowed a client; each is counted (as `BROKER_<code>` at the aggregator). */
export type BrokerRefusalCode =
  | FrameRefusal
  | "CONNECT_TIMEOUT"
  | "TOO_MANY_PENDING"
  | "TOO_MANY_SESSIONS"
  | "PUBLISH_DENIED"
  | "SUBSCRIBE_DENIED"
  | "RETAINED_LIMIT"
  /** a payload the broker checks and refuses: a revocation list not signed by the CA, or older */
  | "BAD_PAYLOAD"
  | "THROTTLED"
  | "RATE_LIMITED"
  | "REVOKED_CUT"
  | "LOGIN_FAILED"
  /** login refusals carry the verifier's code: REPLAY, STALE, WRONG_AUDIENCE, CLIENT_ID_NOT_OWNED, ... */
  | (string & {});

// CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3]
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;

function connackError(message: string, returnCode: number): AuthenticateError {
  const err = new Error(message) as AuthenticateError;
  err.returnCode = returnCode;
  return err;
}

/**
 * Everything the embedded broker decides about a client, in the order a client meets it: admission of
 * the connection (pending cap), its framing (GuardedConnection), its login (token, client id, sessions
 * per identity), then per publish the ACL, the retained quota and the identity's rate. Every refusal is
 * counted by code and logged once per burst (per code and source), never once per message.
 */
export class BrokerGate {
  private readonly counts: Record<string, number> = {};
  private readonly bursts = new BurstLog();
  private readonly identities = new WeakMap<Client, BrokerIdentity>();
  private readonly live = new Set<Client>();
  private readonly sessions = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly retained: RetainedQuota;
  private pending = 0;

  constructor(
    private readonly o: {
      limits: BrokerLimits;
      login: LoginVerifier;
      log: Logger;
      now: () => number;
      onRefusal?: ((code: string) => void) | undefined;
      checkPublish?: ((topic: string, payload: Buffer) => string | undefined) | undefined;
    },
  ) {
    this.retained = new RetainedQuota(o.limits.maxRetainedPerIdentity, o.limits.maxRetainedBytesPerIdentity);
  }

  refusals(): Record<string, number> {
    return { ...this.counts };
  }

  /** Connections open that have not logged in yet. */
  pendingConnections(): number {
    return this.pending;
  }

  /**
   * Counts a refusal; logs it when it starts a burst of its kind from `source` (an identity or a
   * remote address), at `level`.
   */
  refuse(
    code: BrokerRefusalCode,
    source: string,
    msg: string,
    fields: Record<string, unknown>,
    level: "warn" | "info" = "warn",
  ): void {
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    this.o.onRefusal?.(code);
    const burst = this.bursts.note(`${code}\u0000${source}`, this.o.now());
    if (burst === undefined) return;
    this.o.log[level](msg, {
      code,
      ...fields,
      note: "further refusals of this kind from this source are counted, not logged, until it is quiet for 10 s",
    });
  }

  /** Wraps a new socket, or closes it when too many connections wait for their login. */
  accept(socket: GuardedConnection["socket"]): GuardedConnection | undefined {
    const source = socket.remoteAddress ?? "unknown";
    if (this.pending >= this.o.limits.maxPendingConnections) {
      this.refuse("TOO_MANY_PENDING", source, "connection refused", {
        remote: source,
        pending: this.pending,
        max: this.o.limits.maxPendingConnections,
      });
      socket.destroy();
      return undefined;
    }
    this.pending += 1;
    const conn = new GuardedConnection(socket, this.o.limits, (code, declaredBytes) =>
      this.refuse(code, conn.identity ?? source, "connection closed: packet over the limit", {
        remote: source,
        id: conn.identity,
        declaredBytes,
        max: code === "CONNECT_TOO_LARGE" ? this.o.limits.maxConnectBytes : this.o.limits.maxPacketBytes,
      }),
    );
    conn.once("close", () => {
      if (!conn.authenticated) this.pending -= 1;
      else if (conn.identity !== undefined) this.release(conn.identity);
    });
    return conn;
  }

  private release(id: string): void {
    const n = (this.sessions.get(id) ?? 1) - 1;
    if (n > 0) this.sessions.set(id, n);
    else {
      this.sessions.delete(id);
      const b = this.buckets.get(id);
      if (b?.full(this.o.now())) this.buckets.delete(id);
    }
  }

  /** Aedes' authenticate hook. */
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    replaces: Client | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const conn = client.conn instanceof GuardedConnection ? client.conn : undefined;
    const source = conn?.remoteAddress ?? "unknown";
    let who: BrokerIdentity;
    try {
      who = this.o.login.verify(username, password, client.id);
    } catch (e) {
      const code = isGridletError(e) ? e.code : "LOGIN_FAILED";
      this.refuse(code, username ?? source, "login refused", {
        client: client.id,
        username,
        remote: source,
        reason: describeError(e),
      });
      const rc = code === "CLIENT_ID_NOT_OWNED" ? IDENTIFIER_REJECTED : BAD_USERNAME_OR_PASSWORD;
      done(connackError("login refused", rc), false);
      return;
    }
    // A reconnect under the same client id takes the old session's place [MQTT-3.1.4-2].
    const open = (this.sessions.get(who.id) ?? 0) - (replaces !== undefined && !replaces.closed ? 1 : 0);
    if (open >= this.o.limits.maxConnectionsPerIdentity) {
      this.refuse("TOO_MANY_SESSIONS", who.id, "login refused", {
        client: client.id,
        id: who.id,
        open,
        max: this.o.limits.maxConnectionsPerIdentity,
      });
      done(connackError("too many connections for this identity", SERVER_UNAVAILABLE), false);
      return;
    }
    this.identities.set(client, who);
    this.live.add(client);
    if (conn !== undefined) {
      conn.authenticated = true;
      conn.identity = who.id;
      this.pending -= 1;
      conn.once("close", () => this.live.delete(client));
    }
    this.sessions.set(who.id, (this.sessions.get(who.id) ?? 0) + 1);
    done(null, true);
  }

  /** Aedes' authorizePublish hook; `client` is null for the broker's own messages. */
  authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (client === null) {
      done(null);
      return;
    }
    const who = this.identities.get(client);
    if (who === undefined || !mayPublish(who, packet.topic)) {
      this.refuse("PUBLISH_DENIED", who?.id ?? client.id, "publish refused", {
        client: client.id,
        id: who?.id,
        topic: packet.topic,
      });
      done(new Error(`publish to ${packet.topic} not allowed`));
      return;
    }
    const payloadRefusal = this.o.checkPublish?.(
      packet.topic,
      typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload,
    );
    if (payloadRefusal !== undefined) {
      this.refuse("BAD_PAYLOAD", who.id, "publish refused", {
        client: client.id,
        id: who.id,
        topic: packet.topic,
        reason: payloadRefusal,
      });
      done(new Error(payloadRefusal));
      return;
    }
    if (packet.retain) {
      const bytes =
        typeof packet.payload === "string" ? Buffer.byteLength(packet.payload) : packet.payload.length;
      const refusal = this.retained.admit(who.id, packet.topic, bytes);
      if (refusal !== undefined) {
        this.refuse(refusal.code, who.id, "retained publish refused", {
          client: client.id,
          id: who.id,
          topic: packet.topic,
          reason: refusal.reason,
        });
        done(new Error(refusal.reason));
        return;
      }
    }
    // The will, published as the client goes, is not part of its rate.
    if (client.closed) {
      done(null);
      return;
    }
    const now = this.o.now();
    let bucket = this.buckets.get(who.id);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.o.limits.publishPerSecond, this.o.limits.publishBurst, now);
      this.buckets.set(who.id, bucket);
    }
    const waitMs = bucket.reserve(now, this.o.limits.maxThrottleMs);
    if (waitMs === 0) {
      done(null);
      return;
    }
    if (waitMs === undefined) {
      this.refuse("RATE_LIMITED", who.id, "connection closed: publish rate exceeded", {
        client: client.id,
        id: who.id,
        perSecond: this.o.limits.publishPerSecond,
      });
      done(new Error("publish rate exceeded"));
      return;
    }
    // Aedes reads no more from this connection until the packet is handled: the sender is slowed down
    // by TCP flow control, and the broker holds at most one socket read of its packets meanwhile.
    this.refuse(
      "THROTTLED",
      who.id,
      "publishes slowed down",
      { client: client.id, id: who.id, perSecond: this.o.limits.publishPerSecond, waitMs },
      "info",
    );
    setTimeout(() => done(null), waitMs);
  }

  /** Aedes' authorizeSubscribe hook. */
  authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub?: Subscription | null) => void,
  ): void {
    const who = this.identities.get(client);
    if (who !== undefined && maySubscribe(who, sub.topic)) {
      done(null, sub);
      return;
    }
    this.refuse("SUBSCRIBE_DENIED", who?.id ?? client.id, "subscribe refused", {
      client: client.id,
      id: who?.id,
      topic: sub.topic,
    });
    // A null subscription makes Aedes answer 0x80 (failure) for this filter only [MQTT-3.9.3-2].
    done(null, null);
  }

  /** The identities of the clients logged in now, one entry per connection. */
  connected(): BrokerIdentity[] {
    const out: BrokerIdentity[] = [];
    for (const c of this.live) {
      const who = this.identities.get(c);
      if (who !== undefined && !c.closed) out.push(who);
    }
    return out;
  }

  /** The logged-in clients whose identity matches. */
  clientsWhere(match: (who: BrokerIdentity) => boolean): Client[] {
    const out: Client[] = [];
    for (const c of this.live) {
      const who = this.identities.get(c);
      if (who !== undefined && !c.closed && match(who)) out.push(c);
    }
    return out;
  }
}
