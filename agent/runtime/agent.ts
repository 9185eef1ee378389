import { fromHex } from "../../protocol/bytes.js";
import {
  decodeEnvelope,
  type Envelope,
  EnvelopeVerifier,
  encodeEnvelope,
  type SequenceStore,
  signEnvelope,
} from "../../protocol/envelope.js";
import { describeError, isGridletError } from "../../protocol/errors.js";
import type { Certificate } from "../../protocol/identity.js";
import type { LoadedIdentity } from "../../protocol/load-identity.js";
import { ConditionTracker, type Logger } from "../../protocol/log.js";
import { loginToken } from "../../protocol/login.js";
import {
  MSG_READING,
  MSG_RECEIPT,
  type ReadingBody,
  receiptBodySchema,
  toMilli,
} from "../../protocol/messages/readings.js";
import type { ServiceNotifier } from "../../protocol/notify.js";
import type { TlsMaterial } from "../../protocol/tls.js";
import { type HaMessage, type HaMeter, HaPublisher } from "../link/home-assistant.js";
import { AgentLink } from "../link/mqtt-link.js";
import type { MeterDriver, MeterReading } from "../meters/types.js";
import type { AgentStore } from "../store/agent-store.js";
import { resignRow } from "./resign.js";
import type { AgentSnapshot } from "./snapshot.js";

export interface AgentRuntimeOptions {
  id: string;
  intervalMs: number;
  identity: LoadedIdentity;
  /** the home aggregator's certificate, already verified against the CA */
  aggregator: Certificate;
  /**
   * The consortium's aggregators the agent may fail over to, home first, certificates verified against
   * the CA. Down messages are accepted from any of them and from nobody else. Absent: the home alone,
   * at `mqtt.url`.
   */
  aggregators?: { cert: Certificate; url: string }[];
  drivers: MeterDriver[];
  store: AgentStore;
  /** receipted readings older than `keepMs` are pruned every `everyMs` (default 1 min); absent or 0: never */
  retention?: { keepMs: number; everyMs?: number };
  mqtt: {
    url: string;
    clientId: string;
    keepaliveSeconds: number;
    reconnectMinMs: number;
    reconnectMaxMs: number;
    inflight: number;
    receiptTimeoutMs: number;
    failoverAfterMs?: number;
    homeRetryMs?: number;
    tls?: TlsMaterial;
  };
  homeAssistant: {
    enabled: boolean;
    prefix: string;
    /** a meter's state is published at most this often; 0: on every reading */
    stateIntervalMs: number;
    supportUrl?: string;
    /** the meters as HA devices (model names); default: the driver ids */
    meters?: HaMeter[];
    swVersion?: string;
  };
  /**
   * The connection to the operator's own broker, where Home Assistant reads: given what to publish on
   * each connect. Absent: Home Assistant's messages go to the aggregator's broker.
   */
  homeAssistantMirror?: (onConnect: () => HaMessage[]) => HomeAssistantSink;
  notifier: ServiceNotifier;
  log: Logger;
  now?: () => number;
  /**
   * the trading behaviour (agent/participant), given the link's kick for its outbox rows (with a
   * sequence number: rows from there on were queued again, send them)
   */
  trading?: (kick: (rewindTo?: number) => void) => TradingHooks;
}

/** What the runtime calls of the trading behaviour: a step after each tick, the other down messages. */
export interface TradingHooks {
  step(): void;
  onDown(env: Envelope): void;
  /** the link moved to another aggregator's broker */
  onSwitch?(to: { id: string; url: string }): void;
  /** sent messages re-signed under new numbers (old → new), inside the store's transaction */
  onResequenced?(moved: ReadonlyMap<number, number>): void;
  stop(): Promise<void>;
}

/**
 * Retention runs this often and deletes at most this many readings each time: a short pause of the event
 * loop (about 25 ms per 1000 rows on a loaded x86 core), up to 14 million readings a day.
 */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 10_000;

/** Where Home Assistant's messages go when the operator's broker is configured (agent/link/home-assistant-mirror.ts). */
export interface HomeAssistantSink {
  readonly url: string;
  readonly connected: boolean;
  publish(messages: readonly HaMessage[]): void;
  stop(): Promise<void>;
}

/** Receipts are idempotent (they only delete outbox rows), so a replayed one is harmless: no seq check. */
const noSequenceCheck: SequenceStore = { last: () => undefined, advance: () => undefined };

/** The signed body of a reading: integers only, power, voltage, current and frequency in milli-units. */
export function readingBody(r: MeterReading): ReadingBody {
  const body: ReadingBody = {
    meter: r.meter,
    ts: r.ts,
    importWh: r.importWh,
    exportWh: r.exportWh,
    powerMilliW: toMilli(r.powerW),
  };
  if (r.voltageV !== undefined) body.voltageMilliV = toMilli(r.voltageV);
  if (r.currentA !== undefined) body.currentMilliA = toMilli(r.currentA);
  if (r.frequencyHz !== undefined) body.frequencyMilliHz = toMilli(r.frequencyHz);
  return body;
}

/**
 * The agent at work: reads every meter each interval, stores the tick's readings with their signed
 * envelopes in one transaction, hands the outbox to the MQTT link and applies the aggregator's receipts.
 */
export class AgentRuntime {
  private readonly o: AgentRuntimeOptions;
  private readonly now: () => number;
  private readonly link: AgentLink;
  private readonly receipts: EnvelopeVerifier;
  private readonly latest = new Map<string, MeterReading>();
  private readonly readTrouble = new ConditionTracker();
  private readonly timers: NodeJS.Timeout[] = [];
  private ticking: Promise<void> | undefined;
  private lastStoredAt = 0;
  private readonly ha: HaPublisher | undefined;
  private readonly haMirror: HomeAssistantSink | undefined;
  private readonly startedAt: number;
  /** per meter, since the process started: readings stored, reads failed, when it last stored */
  private readonly perMeter = new Map<string, { readings: number; failures: number; lastStoredAt: number }>();
  private stopped = false;
  private readonly trading: TradingHooks | undefined;
  readonly counters = {
    ticks: 0,
    readFailures: 0,
    receipts: 0,
    badReceipts: 0,
    acked: 0,
    deadLettered: 0,
    foreignDown: 0,
    resigned: 0,
  };
  private readonly aggregatorIds: ReadonlySet<string>;
  /** run at the end of stop(): the HTTP endpoint and other parts started around the runtime */
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(opts: AgentRuntimeOptions) {
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    for (const d of opts.drivers) this.perMeter.set(d.id, { readings: 0, failures: 0, lastStoredAt: 0 });
    const aggregators = opts.aggregators ?? [{ cert: opts.aggregator, url: opts.mqtt.url }];
    const keys = new Map(aggregators.map((a) => [a.cert.id, fromHex(a.cert.publicKey)!]));
    this.aggregatorIds = new Set(keys.keys());
    this.receipts = new EnvelopeVerifier({
      directory: {
        lookup: (id) => {
          const publicKey = keys.get(id);
          return publicKey === undefined ? undefined : { publicKey, revoked: false };
        },
      },
      sequences: noSequenceCheck,
      // A receipt may wait in the broker's session for as long as the agent was offline.
      freshness: { maxAgeMs: () => 365 * 86_400_000, maxFutureMs: 5 * 60_000 },
      now: this.now,
    });
    const { identity } = opts;
    const ha = opts.homeAssistant;
    this.ha = !ha.enabled
      ? undefined
      : new HaPublisher({
          agentId: opts.id,
          meters: ha.meters ?? opts.drivers.map((d) => ({ id: d.id, model: "meter" })),
          prefix: ha.prefix,
          swVersion: ha.swVersion ?? "unknown",
          ...(ha.supportUrl === undefined ? {} : { supportUrl: ha.supportUrl }),
          stateIntervalMs: ha.stateIntervalMs,
        });
    const publisher = this.ha;
    this.haMirror =
      publisher === undefined || opts.homeAssistantMirror === undefined
        ? undefined
        : opts.homeAssistantMirror(() => publisher.onConnect());
    this.link = new AgentLink({
      ...opts.mqtt,
      brokers: aggregators.map((a) => ({ id: a.cert.id, url: a.url })),
      failoverAfterMs: opts.mqtt.failoverAfterMs ?? 5000,
      homeRetryMs: opts.mqtt.homeRetryMs ?? 30_000,
      onSwitch: (to) => this.trading?.onSwitch?.(to),
      agentId: opts.id,
      password: (audience) =>
        loginToken(identity.key, identity.cert, {
          clientId: opts.mqtt.clientId,
          audience,
          seq: opts.store.nextLoginSeq(this.now()),
          now: this.now(),
        }),
      outbox: opts.store,
      // Without a broker of its own, Home Assistant reads the aggregator's (an external Mosquitto).
      retained: () => (this.haMirror === undefined ? (this.ha?.onConnect() ?? []) : []),
      onDown: (payload) => this.receiveDown(payload),
      log: opts.log.child("link"),
    });
    this.trading = opts.trading?.((rewindTo) =>
      rewindTo === undefined ? this.link.kick() : this.link.rewind(rewindTo),
    );
  }

  start(): void {
    this.link.start();
    this.timers.push(setInterval(() => this.tickOnce(), this.o.intervalMs));
    const keep = this.o.retention?.keepMs ?? 0;
    if (keep > 0) {
      this.prune(keep);
      this.timers.push(setInterval(() => this.prune(keep), this.o.retention?.everyMs ?? PRUNE_EVERY_MS));
    }
    const wd = this.o.notifier.watchdogMs;
    if (wd !== undefined) {
      // Pinging at half the period; a ping only goes out while readings are being stored, so a hung
      // meter bus gets the service restarted by systemd.
      this.timers.push(
        setInterval(
          () => {
            if (this.now() - this.lastStoredAt < wd) this.o.notifier.watchdog();
          },
          Math.max(500, Math.floor(wd / 2)),
        ),
      );
    }
    this.tickOnce();
    this.o.notifier.ready();
    this.o.log.info("agent started", {
      id: this.o.id,
      meters: this.o.drivers.map((d) => d.id),
      intervalMs: this.o.intervalMs,
    });
  }

  /** Retention: receipted readings older than `keepMs` leave the store, a bounded batch at a time. */
  private prune(keepMs: number): void {
    if (this.stopped) return;
    try {
      const removed = this.o.store.pruneReceipted(this.now() - keepMs, PRUNE_BATCH);
      if (removed > 0)
        this.o.log.info("old readings pruned", { removed, olderThanDays: keepMs / 86_400_000 });
    } catch (e) {
      this.o.log.warn("pruning old readings failed", { error: describeError(e) });
    }
  }

  private tickOnce(): void {
    if (this.ticking !== undefined || this.stopped) return;
    this.ticking = this.tick()
      .then(() => this.stepTrading())
      .finally(() => {
        this.ticking = undefined;
      });
  }

  private stepTrading(): void {
    if (this.trading === undefined || this.stopped) return;
    try {
      this.trading.step();
    } catch (e) {
      this.o.log.warn("trading step failed", { error: describeError(e) });
    }
  }

  /** One read of every meter; the successes are stored together. */
  async tick(): Promise<void> {
    this.counters.ticks += 1;
    const results = await Promise.allSettled(this.o.drivers.map((d) => d.read()));
    const ok: MeterReading[] = [];
    results.forEach((r, i) => {
      const meter = this.o.drivers[i].id;
      if (r.status === "fulfilled") {
        ok.push(r.value);
        const failedReads = this.readTrouble.leave(meter);
        if (failedReads !== undefined) this.o.log.info("meter reading again", { meter, failedReads });
        return;
      }
      this.counters.readFailures += 1;
      this.perMeter.get(meter)!.failures += 1;
      const code = isGridletError(r.reason) ? r.reason.code : "ERROR";
      // Log a failure when it starts or changes, not on every tick of a long outage.
      if (this.readTrouble.enter(meter, code))
        this.o.log.warn("meter read failed", { meter, code, error: describeError(r.reason) });
      if (this.ha !== undefined) this.toHomeAssistant(this.ha.failure(meter));
    });
    if (ok.length === 0 || this.stopped) return;
    const signedAt = this.now();
    const rows = this.o.store.appendReadings(ok, (reading, seq) => ({
      type: MSG_READING,
      payload: encodeEnvelope(
        signEnvelope(
          { type: MSG_READING, from: this.o.id, seq, ts: signedAt, body: readingBody(reading) },
          this.o.identity.key.seed,
        ),
      ).toString("utf8"),
    }));
    this.lastStoredAt = this.now();
    for (const r of ok) {
      this.latest.set(r.meter, r);
      const m = this.perMeter.get(r.meter)!;
      m.readings += 1;
      m.lastStoredAt = this.lastStoredAt;
    }
    this.o.log.debug("readings stored", { count: rows.length, firstSeq: rows[0].seq });
    // Home Assistant gets each reading once it is stored (docs/AGENT.md, "Home Assistant").
    if (this.ha !== undefined)
      for (const r of ok) this.toHomeAssistant(this.ha.reading(r, this.lastStoredAt));
    this.link.kick();
  }

  private toHomeAssistant(messages: HaMessage[]): void {
    if (messages.length === 0) return;
    if (this.haMirror !== undefined) this.haMirror.publish(messages);
    else for (const m of messages) this.link.publishRetained(m.topic, m.payload);
  }

  /**
   * A message on the agent's down topic, from whichever broker: receipts and the trading messages are
   * taken from the configured aggregators only, each verified against the sender's own certificate.
   */
  receiveDown(payload: Buffer): void {
    let env: ReturnType<EnvelopeVerifier["verify"]>;
    try {
      const from = decodeEnvelope(payload).from;
      if (!this.aggregatorIds.has(from)) {
        this.counters.foreignDown += 1;
        this.o.log.warn("down message from an aggregator not configured, refused", { from });
        return;
      }
      env = this.receipts.verify(payload);
      if (env.type !== MSG_RECEIPT) {
        this.trading?.onDown(env);
        return;
      }
    } catch (e) {
      this.counters.badReceipts += 1;
      this.o.log.warn("down message rejected", { error: describeError(e) });
      return;
    }
    const parsed = receiptBodySchema.safeParse(env.body);
    if (!parsed.success || parsed.data.to !== this.o.id) {
      this.counters.badReceipts += 1;
      this.o.log.warn("receipt rejected", {
        reason: parsed.success ? `addressed to ${parsed.data.to}` : parsed.error.message,
      });
      return;
    }
    const { acks, rejected, highestSeq } = parsed.data;
    this.counters.receipts += 1;
    const at = this.now();
    this.counters.acked += this.o.store.acknowledge(acks, at);
    // which aggregator holds which reading: a meter summary must be proven where it is sent
    this.o.store.recordReadingReceipts(acks, env.from);
    const final = rejected.filter((r) => r.code !== "EQUIVOCATION");
    if (final.length > 0) {
      this.counters.deadLettered += this.o.store.deadLetter(final, at);
      for (const r of final) this.o.log.warn("aggregator refused an envelope for good", r);
    }
    const taken = rejected.filter((r) => r.code === "EQUIVOCATION").map((r) => r.seq);
    if (taken.length > 0) this.resign(taken, highestSeq ?? 0, at);
    this.link.settled([...acks, ...rejected.map((r) => r.seq)]);
  }

  /**
   * The aggregator already holds other content under these numbers: this store was rolled back (a
   * backup restored, a WAL lost) or the clock ran behind its floor. The messages are re-signed above
   * everything the aggregator has from this agent, so none of them is lost.
   */
  private resign(seqs: readonly number[], highestSeq: number, now: number): void {
    const { id, identity } = this.o;
    const moved = this.o.store.resequence(
      seqs,
      highestSeq,
      now,
      (row, seq) => resignRow(row, seq, now, id, identity.key.seed),
      (m) => this.trading?.onResequenced?.(m),
    );
    this.counters.resigned += moved.size;
    this.o.log.warn("aggregator holds other messages under our sequence numbers: re-signed above them", {
      count: moved.size,
      highestSeq,
      first: moved.size > 0 ? [...moved.values()][0] : null,
    });
  }

  linkStats() {
    return this.link.stats();
  }

  /** Everything the HTTP endpoint shows, at one moment. */
  snapshot(): AgentSnapshot {
    const at = (t: number) => (t === 0 ? null : t);
    return {
      id: this.o.id,
      at: this.now(),
      startedAt: this.startedAt,
      intervalMs: this.o.intervalMs,
      lastStoredAt: at(this.lastStoredAt),
      meters: this.o.drivers.map((d) => {
        const m = this.perMeter.get(d.id)!;
        return {
          id: d.id,
          readings: m.readings,
          failures: m.failures,
          lastStoredAt: at(m.lastStoredAt),
          failing: this.readTrouble.state(d.id) ?? null,
          driver: d.counters(),
          latest: this.latest.get(d.id) ?? null,
        };
      }),
      runtime: { ...this.counters },
      outbox: this.o.store.queueCounts(),
      link: { ...this.link.stats(), home: this.o.aggregator.id },
      homeAssistant: {
        enabled: this.o.homeAssistant.enabled,
        mirror:
          this.haMirror === undefined ? null : { url: this.haMirror.url, connected: this.haMirror.connected },
      },
    };
  }

  /** Closes `close` when the runtime stops. */
  closeOnStop(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.o.notifier.stopping();
    for (const t of this.timers) clearInterval(t);
    await this.ticking;
    await this.trading?.stop();
    await this.link.stop();
    await this.haMirror?.stop();
    await Promise.allSettled(this.o.drivers.map((d) => d.close()));
    this.o.store.close();
    await Promise.allSettled(this.closers.map((c) => c()));
  }
}
