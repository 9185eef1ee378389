/**
 * The agent's trading behaviour around the pure decisions of core.ts and credit.ts: it runs `step()` on
 * every meter tick, reads the aggregator's down messages and announcements, keeps its state in the
 * agent's SQLite file and sends everything through the durable outbox (docs/AGENT-TRADING.md).
 */

import { fromHex } from "../../protocol/bytes.js";
import { type BoxKeyPair, boxKeyPairFromSecret, open, type SealedBox } from "../../protocol/crypto/box.js";
import { type Envelope, encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import { describeError } from "../../protocol/errors.js";
import type { Certificate } from "../../protocol/identity.js";
import type { LoadedIdentity } from "../../protocol/load-identity.js";
import type { Logger } from "../../protocol/log.js";
import { agentViewSchema } from "../../protocol/messages/account-view.js";
import {
  accountViewBodySchema,
  creditGrantBodySchema,
  fillDownlinkBodySchema,
  MSG_ACCOUNT_VIEW,
  MSG_CREDIT_GRANT,
  MSG_TX_RESULT,
  txResultBodySchema,
} from "../../protocol/messages/downlink.js";
import {
  announcementSchema,
  fillSchema,
  MSG_ANNOUNCE,
  MSG_CONFIRM_DELIVERY,
  MSG_FILL,
  MSG_METER_SUMMARY,
  MSG_ORDER,
  MSG_REGISTER_WALLET,
} from "../../protocol/messages/trading.js";
import type { AgentStore, OutboxRow } from "../store/agent-store.js";
import type { MarketTerms } from "../trading/orders.js";
import { Borrower } from "./borrower.js";
import type { TradingConfig } from "./config.js";
import {
  agentIntervalEnergy,
  confirmations,
  intervalOf,
  intervalsToSummarise,
  meterSummary,
  planOrder,
  walletsToRegister,
} from "./core.js";
import { ParticipantError } from "./errors.js";
import { TradingState } from "./state.js";

export interface ParticipantOptions {
  id: string;
  identity: LoadedIdentity;
  /** the home aggregator: signs down messages, seals fills and views, and (by default) is the bank */
  aggregator: Certificate;
  /** the aggregators the agent may fail over to (the home among them): any of them seals to it */
  aggregators?: Certificate[];
  store: AgentStore;
  config: TradingConfig;
  log: Logger;
  now: () => number;
  /** new rows are in the outbox (from `rewindTo` on, when rows were queued again below the newest) */
  kick: (rewindTo?: number) => void;
}

interface Outgoing {
  type: string;
  body: unknown;
}

export class Participant {
  private readonly o: ParticipantOptions;
  readonly state: TradingState;
  private readonly terms: MarketTerms;
  private readonly wallets: string[];
  readonly wallet: string;
  readonly counters = { sent: 0, fills: 0, views: 0, rejected: 0, badDown: 0, announcements: 0 };
  private readonly borrower: Borrower;
  /** the aggregator the link uses now: where the next meter summary is checked */
  private following: string;

  constructor(o: ParticipantOptions) {
    this.o = o;
    this.following = o.aggregator.id;
    this.state = new TradingState(o.store.database);
    this.terms = o.config.market;
    this.wallets = o.identity.cert.wallets ?? [];
    const w = o.config.wallet;
    const chosen = typeof w === "number" ? this.wallets[w] : this.wallets.find((x) => x === w);
    if (chosen === undefined)
      throw new ParticipantError(
        "NO_WALLET",
        `trading.wallet ${JSON.stringify(w)} is not a wallet of ${o.id}'s certificate`,
        {
          wallets: this.wallets,
        },
      );
    this.wallet = chosen;
    this.borrower = new Borrower({
      ...o,
      state: this.state,
      terms: this.terms,
      wallets: this.wallets,
      wallet: this.wallet,
      send: (items, also) => this.send(items, also),
      availableMc: () => this.availableMc(),
    });
    if (this.state.meta<number>("first_interval") === null)
      this.state.setMeta("first_interval", intervalOf(o.now(), this.terms));
  }

  /** Signs and stores messages in the outbox, with `also` in the same transaction. */
  private send(items: Outgoing[], also: (rows: OutboxRow[]) => void): OutboxRow[] {
    if (items.length === 0) return [];
    const signedAt = this.o.now();
    const rows = this.o.store.appendMessages(
      items,
      (m, seq) => ({
        type: m.type,
        payload: encodeEnvelope(
          signEnvelope(
            { type: m.type, from: this.o.id, seq, ts: signedAt, body: m.body },
            this.o.identity.key.seed,
          ),
        ).toString("utf8"),
      }),
      also,
    );
    this.counters.sent += rows.length;
    this.o.kick();
    return rows;
  }

  /** One round of decisions; cheap when there is nothing to do. */
  step(): void {
    const now = this.o.now();
    this.registerWallets();
    this.summarise(now);
    this.confirm(now);
    this.order(now);
    this.borrower.step(now);
  }

  private registerWallets(): void {
    const todo = walletsToRegister(this.wallets, this.state.registeredWallets());
    this.send(
      todo.map((wallet) => ({ type: MSG_REGISTER_WALLET, body: { wallet } })),
      (rows) => {
        for (const [i, r] of rows.entries()) this.state.walletRegistered(todo[i], r.seq);
      },
    );
  }

  private energyOf(interval: number) {
    const start = interval * this.terms.intervalMs;
    return agentIntervalEnergy(
      this.state.readingsFor(start, start + this.terms.intervalMs),
      interval,
      this.terms,
    );
  }

  private summarise(now: number): void {
    const first = this.state.meta<number>("first_interval") ?? 0;
    const done = this.state.summarisedSince(first);
    for (const interval of intervalsToSummarise(now, this.terms, this.o.config.settleDelayMs, first, done)) {
      const start = interval * this.terms.intervalMs;
      const [from, to] = [start - this.terms.intervalMs, start + this.terms.intervalMs];
      // the summary must match what the aggregator stored: wait for every reading's receipt (or refusal)
      if (this.state.unreceiptedReadings(from, to) > 0) continue;
      // readings another aggregator receipted (a fail-over) go to this one first, then the summary
      const elsewhere = this.state.readingsNotHeldBy(from, to, this.following);
      if (elsewhere.length > 0) {
        this.o.store.resendReadings(elsewhere);
        this.o.log.info("readings sent again for a summary", {
          interval,
          aggregator: this.following,
          readings: elsewhere.length,
        });
        this.o.kick(elsewhere[0]);
        continue;
      }
      const readings = this.state.evidenceReadings(from, to);
      const body = meterSummary(interval, readings, this.terms, this.o.store.meterReplacements());
      if (body === null) continue;
      this.send([{ type: MSG_METER_SUMMARY, body }], ([r]) => this.state.summarySent(interval, r.seq, body));
    }
  }

  private confirm(now: number): void {
    const lastDone = intervalOf(now - this.o.config.settleDelayMs, this.terms) - 1;
    const byInterval = new Map<number, ReturnType<TradingState["unconfirmedBuys"]>>();
    for (const f of this.state.unconfirmedBuys(lastDone)) {
      const list = byInterval.get(f.interval) ?? [];
      list.push(f);
      byInterval.set(f.interval, list);
    }
    for (const [interval, buys] of byInterval) {
      const e = this.energyOf(interval);
      const seen = e !== null && e.readings > 0;
      // A meter that saw nothing of the interval (an outage) cannot say what came: the buyer waits one
      // more interval for late readings, then confirms the trades in full and lets the seller's metered
      // export decide (the contract pays min(metered, confirmed)). Not confirming would forfeit its deposit.
      if (!seen && now < (interval + 2) * this.terms.intervalMs + this.o.config.settleDelayMs) continue;
      const bodies = confirmations(buys, seen ? e.importWh : Number.MAX_SAFE_INTEGER);
      this.send(
        bodies.map((body) => ({ type: MSG_CONFIRM_DELIVERY, body })),
        (rows) => {
          for (const [i, r] of rows.entries()) this.state.confirmed(bodies[i].tradeId, r.seq);
        },
      );
      this.o.log.info("delivery confirmed", {
        interval,
        trades: bodies.length,
        importedWh: seen ? e.importWh : null,
      });
    }
  }

  private availableMc(): number | null {
    const v = this.state.view()?.view;
    return v?.wallets.find((w) => w.address === this.wallet)?.availableMc ?? null;
  }

  private order(now: number): void {
    if (!this.state.registeredWallets().has(this.wallet)) return;
    // the ledger refuses every order of a blacklisted agent
    if (this.state.view()?.view.blacklisted === true) return;
    const current = intervalOf(now, this.terms);
    const ordered = this.state.orderedSince(current + 1);
    // most ticks: the next interval is ordered already, and its energies need not be read
    if (ordered.has(current + 1)) return;
    const hist = this.o.config.limits.historyIntervals;
    const recent: { importWh: number; exportWh: number }[] = [];
    for (let i = current - hist; i < current; i++) {
      const e = this.energyOf(i);
      if (e !== null) recent.push(e);
    }
    const plan = planOrder({
      now,
      terms: this.terms,
      limits: this.o.config.limits,
      price: this.o.config.price,
      wallet: this.wallet,
      announce: this.state.announce(),
      recent,
      ordered,
      availableMc: this.availableMc(),
      settleDelayMs: this.o.config.settleDelayMs,
    });
    if (plan.shortfallMc > 0)
      this.state.setMeta("shortfall", {
        at: now,
        mc: plan.shortfallMc,
        ref: plan.kind === "order" ? plan.referenceMcPerKwh : null,
      });
    if (plan.kind !== "order") return;
    const order = plan.order;
    this.send([{ type: MSG_ORDER, body: order }], ([r]) => this.state.orderPlaced(order, r.seq));
    this.o.log.info("order placed", {
      interval: order.interval,
      side: order.side,
      energyWh: order.energyWh,
      limitPriceMcPerKwh: order.limitPriceMcPerKwh,
      netWh: plan.choice.netWh,
    });
  }

  /** Envelopes from a configured aggregator (already verified) other than receipts. */
  onDown(env: Envelope): void {
    try {
      this.handleDown(env);
    } catch (e) {
      this.counters.badDown += 1;
      this.o.log.warn("down message rejected", { type: env.type, seq: env.seq, error: describeError(e) });
    }
  }

  private box: BoxKeyPair | undefined;

  /** Opens a body sealed by the envelope's sender, an aggregator of the configured list. */
  private openSealed(body: SealedBox, from: string): unknown {
    const sender = [this.o.aggregator, ...(this.o.aggregators ?? [])].find((c) => c.id === from);
    if (sender === undefined)
      throw new ParticipantError("BAD_DOWNLINK", `sealed body from "${from}", not a configured aggregator`);
    // one key pair for the participant's life: box.ts keeps the shared key per key pair and peer
    this.box ??= boxKeyPairFromSecret(this.o.identity.key.boxSecret);
    const box = this.box;
    try {
      return JSON.parse(Buffer.from(open(body, box, fromHex(sender.boxKey))).toString("utf8"));
    } catch (e) {
      throw new ParticipantError("DECRYPT_FAILED", `cannot open sealed body: ${describeError(e)}`);
    }
  }

  private handleDown(env: Envelope): void {
    const at = this.o.now();
    switch (env.type) {
      case MSG_TX_RESULT: {
        const r = parse(txResultBodySchema, env.body, env.type);
        this.state.txResult(r, at);
        if (!r.ok) {
          this.counters.rejected += 1;
          this.o.log.warn("transaction refused", { txId: r.txId, code: r.code, message: r.message });
        }
        this.borrower.onResult(r.txId, r.ok);
        return;
      }
      case MSG_FILL: {
        const fill = parse(
          fillSchema,
          this.openSealed(parse(fillDownlinkBodySchema, env.body, env.type), env.from),
          "fill",
        );
        if (this.state.addFill(fill, at)) {
          this.counters.fills += 1;
          this.o.log.info("fill", {
            tradeId: fill.tradeId,
            side: fill.side,
            interval: fill.interval,
            energyWh: fill.energyWh,
            priceMcPerKwh: fill.priceMcPerKwh,
          });
        }
        return;
      }
      case MSG_ACCOUNT_VIEW: {
        const view = parse(
          agentViewSchema,
          this.openSealed(parse(accountViewBodySchema, env.body, env.type), env.from),
          "account view",
        );
        if (view.agent !== this.o.id)
          throw new ParticipantError("BAD_DOWNLINK", "account view is not this agent's");
        // Down messages carry no sequence check (receipts need none): an older view sent again must not
        // replace a newer one, so views are ordered by their envelope's time.
        const last = this.state.view();
        if (last !== null && (last.ts ?? 0) > env.ts) return;
        this.state.setMeta("view", { at, ts: env.ts, view });
        this.counters.views += 1;
        return;
      }
      case MSG_CREDIT_GRANT: {
        this.borrower.onGrant(parse(creditGrantBodySchema, env.body, env.type));
        return;
      }
      default:
        this.o.log.debug("down message of no interest", { type: env.type });
    }
  }

  /** A `market.announce` envelope, already verified as a configured aggregator's. */
  /**
   * The link moved to another aggregator (fail-over, or back home). A summary still waiting for its
   * receipt goes there now: the readings it covers that this aggregator lacks are queued again under
   * their own (lower) sequence numbers, so that they arrive before it.
   */
  onSwitch(aggregator: string): void {
    this.following = aggregator;
    const seqs = this.state
      .summariesInFlight()
      .flatMap((interval) => this.readingsMissingAt(interval, aggregator));
    if (seqs.length === 0) return;
    this.o.store.resendReadings(seqs);
    this.o.log.info("readings sent again for summaries in flight", { aggregator, readings: seqs.length });
    this.o.kick(Math.min(...seqs));
  }

  private readingsMissingAt(interval: number, aggregator: string): number[] {
    const start = interval * this.terms.intervalMs;
    return this.state.readingsNotHeldBy(
      start - this.terms.intervalMs,
      start + this.terms.intervalMs,
      aggregator,
    );
  }

  onAnnounce(env: Envelope): void {
    if (env.type !== MSG_ANNOUNCE) return;
    const a = announcementSchema.safeParse(env.body);
    if (!a.success) {
      this.counters.badDown += 1;
      this.o.log.warn("announcement rejected", { error: a.error.issues[0]?.message });
      return;
    }
    const last = this.state.announce();
    // A replayed older announcement must not turn back the reference price.
    if (last !== null && a.data.interval < last.interval) return;
    this.state.setMeta("announce", a.data);
    this.counters.announcements += 1;
  }
}

function parse<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { message: string; path: PropertyKey[] }[] } };
  },
  v: unknown,
  what: string,
): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  throw new ParticipantError("BAD_DOWNLINK", `${what}: ${i?.path.map(String).join(".")} ${i?.message}`);
}
