import { writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "#mqtt";
import { stringify } from "#yaml";
import { signConsortium } from "../../aggregator/consensus/consortium.js";
import { BlockStore } from "../../aggregator/ledger/store.js";
import { createGenesis, writeGenesisFile } from "../../aggregator/node/genesis.js";
import { machineForLedger } from "../../aggregator/node/verify.js";
import type { AgentView } from "../../aggregator/state/views.js";
import { CaDirectory } from "../../protocol/ca-dir.js";
import { boxKeyPairFromSecret, open } from "../../protocol/crypto/box.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { decodeEnvelope, type Envelope, encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import type { Certificate, KeyMaterial } from "../../protocol/identity.js";
import { readKeyFile } from "../../protocol/keyfile.js";
import { loginToken } from "../../protocol/login.js";
import type { CreditGrantBody, SealedDownlink, TxResultBody } from "../../protocol/messages/downlink.js";
import { MSG_RECEIPT, type ReceiptBody } from "../../protocol/messages/readings.js";
import { type Fill, requiredDepositMc } from "../../protocol/messages/trading.js";
import { topics } from "../../protocol/topics.js";
import { MeterLog } from "./metering.js";
import { freePort } from "./net.js";
import { LOOPBACK_HOSTS, TestTls, tlsCaOf } from "./tls.js";

/**
 * A consortium of aggregator processes for end-to-end tests: a real CA directory (with its TLS CA),
 * aggregator identities, the CA-signed consortium and genesis files, one YAML configuration per
 * aggregator (embedded broker on a free loopback port serving MQTT over TLS, SQLite files in `dir`),
 * and raw MQTT "agents" that sign their own envelopes and open what is sealed to them.
 */
export interface ProcessConsortium {
  dir: string;
  ca: CaDirectory;
  ids: string[];
  ports: number[];
  /** where clients reach each member's broker: mqtts:// (mqtt:// with `tls: false`) */
  urls: string[];
  /** the TLS CA certificate clients check the brokers against (mqtt.tls.ca), unless `tls: false` */
  tlsCa: string | undefined;
  /** each member's HTTP endpoint (`http` given) */
  httpUrls: string[];
  configs: string[];
  ledgerDbs: string[];
  genesisFile: string;
  consortiumFile: string;
}

export interface ProcessConsortiumOptions {
  n: number;
  trading: unknown;
  credit?: unknown;
  consensus?: Record<string, unknown>;
  /** ledger transactions one identity may send per market interval (default: the aggregator's, 64) */
  txQuotaPerInterval?: number;
  /** where each member's broker listens (default 127.0.0.1 on a free port) */
  listen?: { host: string; port: number }[];
  /**
   * the broker URL the consortium file gives peers (default: the listen address), e.g. a delay relay;
   * with TLS an mqtt:// URL here is given as mqtts:// (a relay forwards the TLS bytes as they are)
   */
  advertise?: string[];
  /** plain MQTT on loopback instead of TLS (default true: as deployed, docs/OPERATIONS.md "TLS") */
  tls?: boolean;
  /** an HTTP endpoint per member (/api/status, /metrics); a token is needed off loopback */
  http?: { listen: { host: string; port: number }[]; token?: string };
}

export async function makeProcessConsortium(
  dir: string,
  o: ProcessConsortiumOptions,
): Promise<ProcessConsortium> {
  const ca = new CaDirectory(join(dir, "ca"));
  ca.init("test-ca");
  const out = join(dir, "identities");
  const ids = Array.from({ length: o.n }, (_, i) => `eag${i}`);
  const issued = ids.map((id) => ca.issue({ role: "aggregator", id }, out));
  const listen: { host: string; port: number }[] = o.listen ?? [];
  for (let i = listen.length; i < ids.length; i++) listen.push({ host: "127.0.0.1", port: await freePort() });
  const ports = listen.map((l) => l.port);
  const tls = o.tls === false ? undefined : await new TestTls(ca.dir).init();
  const scheme = tls === undefined ? "mqtt" : "mqtts";
  const urls = listen.map((l) => `${scheme}://${l.host}:${l.port}`);
  const serverTls: { cert: string; key: string }[] = [];
  if (tls !== undefined)
    for (const [i, id] of ids.entries()) {
      const t = await tls.server(id, [listen[i].host, ...LOOPBACK_HOSTS]);
      serverTls.push({ cert: t.cert, key: t.key });
    }
  const httpUrls = (o.http?.listen ?? []).map((l) => `http://${l.host}:${l.port}`);
  const members = issued.map((x, i) => ({
    id: x.cert.id,
    publicKey: x.cert.publicKey,
    broker: o.advertise?.[i]?.replace(/^mqtt:/, `${scheme}:`) ?? urls[i],
  }));
  const caSeed = readKeyFile(ca.keyPath).seed;
  const consortiumFile = join(dir, "consortium.json");
  const signed = signConsortium({ v: 1, name: "e2e", issued: Date.now(), members }, caSeed, defaultEd25519);
  writeFileSync(consortiumFile, JSON.stringify(signed, null, 2));
  const genesisFile = join(dir, "genesis.json");
  writeGenesisFile(
    genesisFile,
    createGenesis(ca, {
      consortium: { name: "e2e", members },
      issued: Date.now() - 60_000,
      trading: o.trading,
      credit: o.credit ?? {},
      banks: {
        eag0: { publicKey: issued[0].cert.publicKey, wallet: "bank-eag0-wallet", fundsMc: 1_000_000 },
      },
    }),
  );
  const configs: string[] = [];
  const ledgerDbs: string[] = [];
  issued.forEach((x, i) => {
    const path = join(dir, `${x.cert.id}.yaml`);
    const ledgerDb = join(dir, `${x.cert.id}.ledger.db`);
    ledgerDbs.push(ledgerDb);
    writeFileSync(
      path,
      stringify({
        version: 1,
        id: x.cert.id,
        identity: { key: x.keyPath, cert: x.certPath, ca: ca.certPath, revocations: ca.revocationsPath },
        broker:
          tls === undefined
            ? { embedded: listen[i] }
            : { embedded: { ...listen[i], tls: serverTls[i] }, tls: { ca: tls.caPath } },
        store: { path: join(dir, `${x.cert.id}.sqlite`) },
        trust: { certDir: join(dir, "ca", "certs") },
        consortium: {
          file: consortiumFile,
          ledgerDb,
          resubmitMs: 3000,
          announceLeadMs: 500,
          ...(o.txQuotaPerInterval === undefined ? {} : { txQuotaPerInterval: o.txQuotaPerInterval }),
        },
        genesis: { file: genesisFile },
        consensus: { slotTimeoutMs: 1500, checkpointInterval: 4, ...o.consensus },
        ...(o.http === undefined
          ? {}
          : {
              http: {
                ...o.http.listen[i],
                ...(o.http.token === undefined ? {} : { token: o.http.token }),
              },
            }),
      }),
    );
    configs.push(path);
  });
  return {
    dir,
    ca,
    ids,
    ports,
    urls,
    tlsCa: tls?.caPath,
    httpUrls,
    configs,
    ledgerDbs,
    genesisFile,
    consortiumFile,
  };
}

/** An agent driven from the test: a raw MQTT client signing its own envelopes, as the agent would. */
export class RawAgent {
  readonly cert: Certificate;
  readonly key: KeyMaterial;
  private client: MqttClient | undefined;
  private seq = Date.now() * 1000;
  private loginSeq = Date.now() * 1000;
  /** every envelope sent, by seq: removed when receipted */
  readonly unreceipted = new Map<number, Envelope>();
  readonly sent: Envelope[] = [];
  readonly results = new Map<string, TxResultBody>();
  readonly fills: Fill[] = [];
  readonly views: AgentView[] = [];
  readonly downFrom = new Set<string>();
  readonly announcements: unknown[] = [];
  readonly grants: CreditGrantBody[] = [];
  /** receipt refusals by sequence number: code and reason */
  readonly refused = new Map<number, { code: string; reason: string }>();
  /** the agent's signed readings (sent as they are signed) and the summaries they prove */
  readonly meters = new MeterLog((type, body, signedAt) => {
    this.send(type, body, signedAt);
    return this.sent[this.sent.length - 1];
  });
  /** when each receipt and result arrived (ms since epoch), for latency measurements */
  readonly receiptedAt = new Map<number, number>();
  readonly resultAt = new Map<string, number>();

  /** the consortium's TLS CA, which mqtts:// brokers are checked against */
  private readonly tlsCa: Buffer | undefined;

  constructor(ca: CaDirectory, id: string, home: string, dir: string) {
    const issued = ca.issue({ role: "agent", id, home, wallets: 1 }, join(dir, "agents"));
    this.cert = issued.cert;
    this.key = issued.key;
    this.tlsCa = tlsCaOf(ca.dir);
  }

  get id(): string {
    return this.cert.id;
  }

  get wallet(): string {
    return this.cert.wallets![0];
  }

  get lastView(): AgentView | undefined {
    return this.views.at(-1);
  }

  /** Connects (or reconnects) to an aggregator's broker and sends what is not receipted yet. */
  async connect(url: string, aggregator: string): Promise<void> {
    await this.close();
    const clientId = `${this.id}/${++this.loginSeq}`;
    const box = boxKeyPairFromSecret(this.key.boxSecret);
    const c = mqtt.connect(url, {
      clientId,
      username: this.id,
      password: loginToken(this.key, this.cert, {
        clientId,
        audience: aggregator,
        seq: ++this.loginSeq,
        now: Date.now(),
      }),
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...(this.tlsCa === undefined ? {} : { ca: this.tlsCa }),
    });
    await new Promise<void>((resolve, reject) => {
      c.once("connect", () => resolve());
      c.once("error", reject);
    });
    await c.subscribeAsync([topics.agentDown(this.id), topics.aggregatorAnnounce(aggregator)], { qos: 1 });
    c.on("message", (_topic, payload) => {
      const env = decodeEnvelope(payload);
      this.downFrom.add(env.from);
      if (env.type === MSG_RECEIPT) {
        for (const s of (env.body as ReceiptBody).acks) {
          this.unreceipted.delete(s);
          this.receiptedAt.set(s, Date.now());
        }
        for (const r of (env.body as ReceiptBody).rejected) {
          this.unreceipted.delete(r.seq);
          this.refused.set(r.seq, { code: r.code, reason: r.reason });
        }
      } else if (env.type === "tx.result") {
        const r = env.body as TxResultBody;
        this.results.set(r.txId, r);
        this.resultAt.set(r.txId, Date.now());
      } else if (env.type === "fill" || env.type === "account.view") {
        const plain = JSON.parse(Buffer.from(open(env.body as SealedDownlink, box)).toString("utf8"));
        if (env.type === "fill") this.fills.push(plain as Fill);
        else this.views.push(plain as AgentView);
      } else if (env.type === "market.announce") this.announcements.push(env.body);
      else if (env.type === "credit.grant") this.grants.push(env.body as CreditGrantBody);
    });
    this.client = c;
    for (const env of this.unreceipted.values())
      c.publish(topics.agentUp(this.id), encodeEnvelope(env), { qos: 1 });
  }

  /** Signs and publishes one envelope; returns its ledger transaction id. */
  send(type: string, body: unknown, signedAt = Date.now()): string {
    const env = signEnvelope({ type, from: this.id, seq: ++this.seq, ts: signedAt, body }, this.key.seed);
    this.unreceipted.set(env.seq, env);
    this.sent.push(env);
    this.client?.publish(topics.agentUp(this.id), encodeEnvelope(env), { qos: 1 });
    return `${this.id}:${env.seq}`;
  }

  order(side: "buy" | "sell", interval: number, energyWh: number, price: number): string {
    const maxDepositMc = requiredDepositMc(side, energyWh, price, 10, 2_000);
    return this.send("order", {
      wallet: this.wallet,
      side,
      interval,
      energyWh,
      limitPriceMcPerKwh: price,
      deposit: { wallet: this.wallet, interval, maxDepositMc },
    });
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c !== undefined) await c.endAsync(true);
  }
}

/** Re-executes a ledger file up to `height` blocks: its state hash there and every applied result. */
export function reexecute(
  dbFile: string,
  genesisFile: string,
  height: number,
): { stateHash: string; results: { tx: unknown; ok: boolean; code?: string }[] } {
  const store = new BlockStore(dbFile, { readonly: true });
  try {
    const machine = machineForLedger(store, genesisFile);
    const results: { tx: unknown; ok: boolean; code?: string }[] = [];
    for (const e of store.list(0, height)) {
      const h = e.block.header;
      for (const tx of e.block.txs) {
        const r = machine.apply(tx, { time: h.time, height: e.seq, proposer: h.proposer });
        results.push(r.ok ? { tx, ok: true } : { tx, ok: false, code: r.code });
      }
    }
    return { stateHash: machine.stateHash(), results };
  } finally {
    store.close();
  }
}

/** Every transaction in a ledger file so far (readable while its aggregator runs). */
export function ledgerTxs(dbFile: string): { type?: string; from?: string; seq?: number; body?: unknown }[] {
  const store = new BlockStore(dbFile, { readonly: true });
  try {
    return store.list(0, Number.MAX_SAFE_INTEGER).flatMap((e) => e.block.txs as { type?: string }[]);
  } finally {
    store.close();
  }
}

export function ledgerHeight(dbFile: string): number {
  const store = new BlockStore(dbFile, { readonly: true });
  try {
    return store.head().nextSeq;
  } finally {
    store.close();
  }
}
