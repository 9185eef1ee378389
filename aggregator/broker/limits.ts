import { z } from "#zod";

/**
 * What one client may cost the embedded broker, before its login and after (docs/SECURITY.md, "Limits").
 * Composed into the aggregator configuration as `broker.embedded.limits`.
 */
export const brokerLimitsSchema = z
  .object({
    /** the largest MQTT packet accepted, fixed header included; checked before the body is buffered */
    maxPacketBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(256 * 1024),
    /** the largest first packet (CONNECT: client id, login token with its certificate, will), and of
     * any packet before the login is accepted */
    maxConnectBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** a connection whose CONNECT has not arrived this long after it opened is closed */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** connections open at once that have not logged in yet; more are closed as they arrive */
    maxPendingConnections: z.number().int().min(1).max(100_000).default(64),
    /** connections open at once per identity (an agent uses two: its link and its announcements) */
    maxConnectionsPerIdentity: z.number().int().min(1).max(10_000).default(8),
    /** retained messages one identity may keep on the broker */
    maxRetainedPerIdentity: z.number().int().min(0).max(100_000).default(64),
    /** bytes of retained payload one identity may keep on the broker */
    maxRetainedBytesPerIdentity: z
      .number()
      .int()
      .min(0)
      .default(256 * 1024),
    /** sustained publishes per second per identity; beyond the burst, its connections are slowed down */
    publishPerSecond: z.number().int().min(1).max(1_000_000).default(200),
    /** publishes an identity may send at once before the rate applies */
    publishBurst: z.number().int().min(1).max(1_000_000).default(2000),
    /** a client whose socket takes longer than this to drain (it stopped reading) is disconnected */
    drainTimeoutMs: z.number().int().min(1000).max(600_000).default(15_000),
    /** a publish that would have to wait longer than this for its turn drops the connection instead */
    maxThrottleMs: z.number().int().min(0).max(60_000).default(5000),
  })
  .strict();

export type BrokerLimits = z.infer<typeof brokerLimitsSchema>;

export const DEFAULT_BROKER_LIMITS: BrokerLimits = brokerLimitsSchema.parse({});

/**
 * A token bucket that hands out turns: `reserve` answers how long the caller must wait for its
 * message to pass (0 when a token is there), so that a fast sender is slowed to `ratePerSec` in
 * arrival order rather than refused. Pure: the time comes in.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Milliseconds to wait before the next message may pass, or undefined if that is over `maxWaitMs`. */
  reserve(now: number, maxWaitMs: number): number | undefined {
    this.refill(now);
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.ratePerSec) * 1000;
    if (waitMs > maxWaitMs) return undefined;
    this.tokens -= 1;
    return Math.ceil(waitMs);
  }

  /** True when the bucket is full again (nothing to remember about its owner). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.at);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
    this.at = now;
  }
}

export type RetainedRefusal = { code: "RETAINED_LIMIT"; reason: string };

/**
 * Retained messages by owner: the ACL lets each identity publish only under its own topics, so every
 * retained topic has one owner, and its count and bytes can be capped per owner. An empty retained
 * payload deletes the topic's message [MQTT-3.3.1-10] and frees its share.
 */
export class RetainedQuota {
  private readonly byOwner = new Map<string, Map<string, number>>();

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  /** Records a retained publish, or answers why it is refused (then nothing is recorded). */
  admit(owner: string, topic: string, bytes: number): RetainedRefusal | undefined {
    let topics = this.byOwner.get(owner);
    if (bytes === 0) {
      topics?.delete(topic);
      return undefined;
    }
    if (topics === undefined) {
      topics = new Map();
      this.byOwner.set(owner, topics);
    }
    const previous = topics.get(topic);
    if (previous === undefined && topics.size >= this.maxCount)
      return {
        code: "RETAINED_LIMIT",
        reason: `${owner} already keeps ${topics.size} retained messages (at most ${this.maxCount})`,
      };
    const total = this.bytes(owner) - (previous ?? 0) + bytes;
    if (total > this.maxBytes)
      return {
        code: "RETAINED_LIMIT",
        reason: `${owner}'s retained messages would hold ${total} bytes (at most ${this.maxBytes})`,
      };
    topics.set(topic, bytes);
    return undefined;
  }

  bytes(owner: string): number {
    let sum = 0;
    for (const b of this.byOwner.get(owner)?.values() ?? []) sum += b;
    return sum;
  }

  count(owner: string): number {
    return this.byOwner.get(owner)?.size ?? 0;
  }
}
