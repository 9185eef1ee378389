/**
 * Retention (issue 13, item 8) on real SQLite files: the agent prunes receipted readings past their age
 * and keeps the ones still waiting for a receipt; the aggregator prunes ingested readings and their
 * exactly-once records, and a copy of a pruned reading sent again is refused as STALE, not stored twice;
 * the ledger is a separate file that retention never opens.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { AgentStore } from "../agent/store/agent-store.js";
import { Ingest } from "../aggregator/ingest/ingest.js";
import { readingsHandler } from "../aggregator/ingest/readings.js";
import { ReceiptBatcher } from "../aggregator/ingest/receipts.js";
import { IngestRetention } from "../aggregator/ingest/retention.js";
import { AggregatorStore } from "../aggregator/ingest/store.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { tempDir } from "../bench/harness/tmp.js";
import { ConfigError, parseConfigText } from "../config/load.js";
import { agentConfigSchema, aggregatorConfigSchema } from "../config/schema.js";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { TrustStore } from "../protocol/identity.js";
import { silentLogger } from "../protocol/log.js";
import { MSG_READING } from "../protocol/messages/readings.js";
import { topics } from "../protocol/topics.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

describe("retention at the agent", () => {
  const tmp = tempDir("gridlet-retention-agent-");
  after(() => tmp.cleanup());

  it("deletes receipted readings past the age, keeps unreceipted and recent ones, in the file", () => {
    const path = join(tmp.dir, "agent.sqlite");
    const store = new AgentStore(path, "agent-1", () => 1);
    const sign = (_r: unknown, seq: number) => ({ type: MSG_READING, payload: `signed ${seq}` });
    // ten days of one reading per hour
    const seqs: number[] = [];
    for (let h = 0; h < 240; h++) {
      const [row] = store.appendReadings(
        [{ meter: "m", ts: T0 + h * 3_600_000, importWh: h, exportWh: 0, powerW: 1 }],
        sign,
      );
      seqs.push(row.seq);
    }
    // everything receipted except hours 10..19 (an outage long ago) and the last day
    const unreceipted = new Set([...seqs.slice(10, 20), ...seqs.slice(216)]);
    store.acknowledge(
      seqs.filter((s) => !unreceipted.has(s)),
      T0 + 10 * DAY,
    );
    const nextSeq = store.counters().nextSeq;
    const now = T0 + 10 * DAY;
    const removed = store.pruneReceipted(now - 7 * DAY, 100_000);
    store.close();

    const db = new Database(path, { readonly: true });
    const left = db
      .prepare<[], { seq: number; ts: number }>("SELECT seq, ts FROM readings ORDER BY seq")
      .all();
    const outbox = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox").get()!.n;
    const envelopes = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM reading_envelopes").get()!.n;
    db.close();
    // the first 3 days are 72 readings, 10 of them unreceipted
    assert.equal(removed, 62);
    assert.equal(left.length, 240 - 62);
    assert.ok(
      left.every((r) => r.ts >= now - 7 * DAY || unreceipted.has(r.seq)),
      "only old receipted rows went",
    );
    assert.equal(left.filter((r) => r.ts < now - 7 * DAY).length, 10, "unreceipted old readings stay");
    assert.equal(outbox, unreceipted.size, "the outbox is untouched");
    assert.equal(envelopes, left.length, "the envelope copies go with their readings");
    const reopened = new AgentStore(path, "agent-1", () => 1);
    assert.equal(reopened.counters().nextSeq, nextSeq, "sequence numbers never go back");
    assert.equal(reopened.pruneReceipted(now - 7 * DAY, 100_000), 0, "a second prune finds nothing");
    reopened.close();
  });

  it("prunes in bounded batches", () => {
    const store = new AgentStore(join(tmp.dir, "batches.sqlite"), "agent-1", () => 1);
    const rows = store.appendReadings(
      Array.from({ length: 50 }, (_, i) => ({ meter: "m", ts: T0 + i, importWh: i, exportWh: 0, powerW: 1 })),
      (_r, seq) => ({ type: MSG_READING, payload: String(seq) }),
    );
    store.acknowledge(
      rows.map((r) => r.seq),
      T0,
    );
    assert.equal(store.pruneReceipted(T0 + DAY, 20), 20);
    assert.equal(store.pruneReceipted(T0 + DAY, 20), 20);
    assert.equal(store.pruneReceipted(T0 + DAY, 20), 10);
    assert.equal(store.counters().readingsStored, 0);
    store.close();
  });
});

describe("retention at the aggregator", () => {
  const tmp = tempDir("gridlet-retention-agg-");
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  it("prunes readings and their exactly-once records; a copy sent again is STALE, not stored again", async () => {
    const clock = { now: T0 };
    const now = () => clock.now;
    const path = join(tmp.dir, "agg.sqlite");
    const store = new AggregatorStore(path, "agg-1", () => 1);
    const trust = new TrustStore(pki.ca.caCertificate(), { now: () => Date.now() });
    for (const a of pki.agents) trust.add(a.cert);
    const receipts = new ReceiptBatcher({
      aggregatorId: "agg-1",
      seed: pki.aggregator.key.seed,
      nextSeq: () => store.allocateSeq(),
      now,
      delayMs: 0,
      maxPerReceipt: 1000,
      sender: { send: () => undefined },
    });
    const ingest = new Ingest({
      store,
      directory: trust,
      receipts,
      now,
      maxFutureMs: 60_000,
      log: silentLogger,
    });
    const readingMaxAgeMs = DAY;
    ingest.registerHandler(MSG_READING, readingsHandler(store.db, readingMaxAgeMs));
    const retention = new IngestRetention(store.db);
    const a = pki.agents[0];
    const envelopeAt = (seq: number, ts: number) =>
      encodeEnvelope(
        signEnvelope(
          {
            type: MSG_READING,
            from: a.id,
            seq,
            ts,
            body: { meter: "m", ts, importWh: seq, exportWh: 0, powerMilliW: 1000 },
          },
          a.key.seed,
        ),
      );
    const sent = new Map<number, Buffer>();
    // one reading an hour for 4 days, each ingested when it was made
    for (let h = 0; h < 96; h++) {
      clock.now = T0 + h * 3_600_000;
      const env = envelopeAt(h + 1, clock.now);
      sent.set(h + 1, env);
      ingest.receive(topics.agentUp(a.id), env);
      ingest.flush();
    }
    const count = (sql: string) => store.db.prepare<[], { n: number }>(sql).get()!.n;
    assert.equal(count("SELECT count(*) AS n FROM readings"), 96);

    // keep 2 days (>= readingMaxAgeMs + maxFutureMs); on day 4, the first 2 days go
    const keepMs = 2 * DAY;
    const r = retention.prune(clock.now - keepMs, 50_000);
    assert.deepEqual(r, { readings: 48 - 1, envelopes: 48 - 1 });
    assert.equal(count("SELECT count(*) AS n FROM readings"), 49);
    assert.equal(count("SELECT min(ts) AS n FROM readings"), clock.now - keepMs);

    // an attacker (or a confused agent) sends the first, pruned reading again
    ingest.receive(topics.agentUp(a.id), sent.get(1)!);
    ingest.flush();
    assert.equal(count("SELECT count(*) AS n FROM readings"), 49, "not stored again");
    assert.equal(count("SELECT count AS n FROM rejections WHERE code = 'STALE'"), 1);
    // a recent one sent again is still a duplicate, as before retention
    ingest.receive(topics.agentUp(a.id), sent.get(96)!);
    ingest.flush();
    ingest.flush(); // the duplicate is found at commit, its count committed with the next batch
    assert.equal(count("SELECT count AS n FROM rejections WHERE code = 'DUPLICATE'"), 1);
    // let the flushes ingest scheduled for itself run, then stop the receipt timer, before the file closes
    await new Promise((r) => setImmediate(r));
    receipts.flush();
    receipts.stop();
    store.close();
  });

  it("the ledger is another file: an aggregator's retention leaves it alone", () => {
    // The ledger's blocks live in ledgerDb (default: store.path + .ledger.db); retention opens only the
    // ingest store it is given, whose tables it names.
    const path = join(tmp.dir, "agg2.sqlite");
    const store = new AggregatorStore(path, "agg-1", () => 1);
    readingsHandler(store.db, DAY);
    new IngestRetention(store.db).prune(Date.now(), 10);
    const tables = store.db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((t) => t.name);
    assert.ok(!tables.includes("blocks"), `ingest store tables: ${tables.join(", ")}`);
    store.close();
    assert.ok(statSync(path).size > 0);
  });
});

describe("retention settings", () => {
  const agentBase = `version: 1
id: a
identity: { key: k, cert: c, ca: ca }
aggregator: { id: g, cert: gc }
mqtt: { url: "mqtt://127.0.0.1:1883" }
meters: [{ id: m, driver: synthetic }]
`;
  const aggBase = `version: 1
id: g
identity: { key: k, cert: c, ca: ca }
broker: { embedded: { port: 1883 } }
`;

  it("defaults: 8 days at the agent, 90 at the aggregator; 0 keeps for ever", () => {
    assert.equal(
      parseConfigText(agentConfigSchema, `${agentBase}store: { path: s }\n`, "a").store.keepReadingsDays,
      8,
    );
    assert.equal(
      parseConfigText(aggregatorConfigSchema, `${aggBase}store: { path: s }\n`, "g").store.keepReadingsDays,
      90,
    );
    assert.equal(
      parseConfigText(aggregatorConfigSchema, `${aggBase}store: { path: s, keepReadingsDays: 0 }\n`, "g")
        .store.keepReadingsDays,
      0,
    );
  });

  it("a trading agent keeps at least 8 days (its summaries are built from them); a metering one may keep 1", () => {
    assert.throws(
      () =>
        parseConfigText(
          agentConfigSchema,
          `${agentBase}store: { path: s, keepReadingsDays: 2 }\ntrading: { enabled: true }\n`,
          "a.yaml",
        ),
      (e) =>
        e instanceof ConfigError &&
        e.problems.some((p) =>
          /^store\.keepReadingsDays: got 2, expected .*at least 8 days when trading/.test(p),
        ),
    );
    const c = parseConfigText(
      agentConfigSchema,
      `${agentBase}store: { path: s, keepReadingsDays: 1 }\n`,
      "a.yaml",
    );
    assert.equal(c.store.keepReadingsDays, 1);
  });

  it("the aggregator refuses to prune readings it would still accept a copy of", () => {
    assert.throws(
      () =>
        parseConfigText(
          aggregatorConfigSchema,
          `${aggBase}store: { path: s, keepReadingsDays: 10 }\n`,
          "g.yaml",
        ),
      (e) =>
        e instanceof ConfigError &&
        e.problems.some((p) => /^store\.keepReadingsDays: got 10, expected .*readingMaxAgeMs/.test(p)),
    );
    // a week's meter summaries are still checked against their readings
    assert.throws(
      () =>
        parseConfigText(
          aggregatorConfigSchema,
          `${aggBase}store: { path: s, keepReadingsDays: 3 }\ningest: { readingMaxAgeMs: 86400000 }\n`,
          "g.yaml",
        ),
      (e) =>
        e instanceof ConfigError &&
        e.problems.some((p) => /keepReadingsDays: got 3, expected .*at least 8 days/.test(p)),
    );
    // with a shorter acceptance window, a shorter retention is fine
    const c = parseConfigText(
      aggregatorConfigSchema,
      `${aggBase}store: { path: s, keepReadingsDays: 10 }\ningest: { readingMaxAgeMs: 604800000 }\n`,
      "g.yaml",
    );
    assert.equal(c.store.keepReadingsDays, 10);
  });
});
