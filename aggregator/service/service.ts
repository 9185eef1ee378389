import { randomBytes } from "node:crypto";
import { fromHex, toHex } from "../../protocol/bytes.js";
import { boxKeyPairFromSecret } from "../../protocol/crypto/box.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import type { TrustStore } from "../../protocol/identity.js";
import type { LoadedIdentity } from "../../protocol/load-identity.js";
import type { Logger } from "../../protocol/log.js";
import { type MeterSummaryBody, MSG_METER_SUMMARY } from "../../protocol/messages/trading.js";
import { plainRemoteHost, type TlsMaterial } from "../../protocol/tls.js";
import { loadConsortiumDocument } from "../consensus/consortium.js";
import { CreditBankService } from "../credit/service.js";
import type { MeterEvidenceStore } from "../ingest/evidence.js";
import type { Ingest } from "../ingest/ingest.js";
import type { AggregatorStore } from "../ingest/store.js";
import { BlockStore } from "../ledger/store.js";
import { announceInterval } from "../market/announce.js";
import { loadGenesisFile } from "../node/genesis.js";
import { AggregatorNode } from "../node/node.js";
import type { SignatureCache } from "../node/sig-cache.js";
import type { DutyClock } from "../runtime/clock.js";
import { BillDesk } from "./bill-desk.js";
import { CommitRelay } from "./commit.js";
import type { LedgerServiceConfig } from "./config.js";
import { Downlink } from "./downlink.js";
import { LedgerServiceError } from "./errors.js";
import { registerLedgerHandlers } from "./handlers.js";
import { LedgerOutbox } from "./outbox.js";
import { OutboxPump } from "./outbox-pump.js";
import { PeerLink } from "./peer-link.js";
import { IdentityRegistrar } from "./registrar.js";
import { TxQuota } from "./tx-quota.js";

export interface LedgerServiceDeps {
  config: LedgerServiceConfig;
  self: string;
  identity: LoadedIdentity;
  trust: TrustStore;
  store: AggregatorStore;
  storePath: string;
  ingest: Ingest;
  /** the readings ingested here: a meter summary is checked against them before it enters the ledger */
  evidence: MeterEvidenceStore;
  /** TLS of the connections to the peers' brokers (broker.tls: the consortium's TLS CA) */
  tls?: TlsMaterial | undefined;
  /** publishes on this aggregator's own broker */
  publish: (topic: string, payload: Buffer) => void;
  /** a revocation list published on a peer's broker (the CA's, signed; the caller checks it) */
  onRevocations?: (peer: string, payload: Buffer) => void;
  log: Logger;
  /** the process's one timer: the ledger registers its periodic duties on it when it starts */
  clock: DutyClock;
  /** the signature cache ingest verifies through (one verification per envelope) */
  signatures?: SignatureCache;
  now?: () => number;
}

export interface RunningLedger {
  node: AggregatorNode;
  link: PeerLink;
  outbox: LedgerOutbox;
  /** joins consensus once the own broker is up (peers subscribe to it) */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const crypto = defaultEd25519;

/**
 * The ledger inside the aggregator process: loads the CA-signed consortium and genesis files, opens
 * the block store, links to the peers' brokers and runs an AggregatorNode; agent envelopes go from
 * ingest through a durable outbox into the ledger, and what commits goes back down to the agents.
 */
export function createLedgerService(d: LedgerServiceDeps): RunningLedger {
  const now = d.now ?? Date.now;
  const { config, self, identity, log } = d;
  const caKey = fromHex(identity.ca.publicKey)!;
  const { consortium, file: consortiumFile } = loadConsortiumDocument(config.consortium.file, caKey, crypto);
  const me = consortium.members.find((m) => m.id === self);
  if (me === undefined)
    throw new LedgerServiceError("NOT_A_MEMBER", `${self} is not a member of ${config.consortium.file}`);
  if (me.publicKey !== identity.cert.publicKey)
    throw new LedgerServiceError(
      "NOT_A_MEMBER",
      `${config.consortium.file} lists ${self} with another key than its certificate's`,
    );
  for (const m of consortium.members) {
    const host = m.id === self ? undefined : plainRemoteHost(m.broker);
    if (host !== undefined)
      throw new LedgerServiceError(
        "BAD_CONFIG",
        `${config.consortium.file} gives ${m.id}'s broker as ${m.broker}: plain MQTT to another machine; peers connect over mqtts:// (docs/OPERATIONS.md, "TLS")`,
      );
  }
  const genesis = loadGenesisFile(config.genesis.file, {
    members: consortium.members,
    consortium: consortium.name,
    caPublicKey: caKey,
  });
  const box = boxKeyPairFromSecret(identity.key.boxSecret);
  let bank: CreditBankService | undefined;
  const bankGenesis = genesis.banks[self];
  if (bankGenesis !== undefined && config.bank.enabled) {
    if (bankGenesis.publicKey !== identity.cert.publicKey)
      throw new LedgerServiceError(
        "BANK_KEY_MISMATCH",
        `the genesis lists bank ${self} with another key than its certificate's (the identity key signs tokens)`,
      );
    bank = new CreditBankService({ id: self, seed: identity.key.seed, box }, randomBytes);
  }

  const blockStore = new BlockStore(config.consortium.ledgerDb ?? `${d.storePath}.ledger.db`);
  const outbox = new LedgerOutbox(d.store.db);
  d.store.db.exec(
    "CREATE TABLE IF NOT EXISTS bank_wallet_seeds (loan_id TEXT PRIMARY KEY, shared_wallet TEXT NOT NULL, seed TEXT NOT NULL)",
  );
  const keepSeed = d.store.db.prepare("INSERT OR IGNORE INTO bank_wallet_seeds VALUES (?, ?, ?)");
  let node: AggregatorNode | undefined;
  // Until the node has replayed its own store, peers' messages would meet a core at height 0.
  let started = false;
  // The link and the bill desk need each other (bills arrive over the link and are forwarded on it).
  let bills: BillDesk | undefined;

  const link = new PeerLink({
    consortium,
    self,
    key: identity.key,
    cert: identity.cert,
    crypto,
    publishOwn: d.publish,
    deliver: (m) => {
      if (started) node?.deliver(m);
    },
    onBill:
      bank === undefined
        ? undefined
        : (peer, payload) => bills?.receive(payload.toString("utf8"), peer) ?? false,
    nextLoginSeq: () => d.store.nextLoginSeq(),
    ...(d.onRevocations === undefined ? {} : { onRevocations: d.onRevocations }),
    tls: d.tls,
    now,
    log: log.child("peers"),
  });

  const downlink = new Downlink({
    self,
    seed: identity.key.seed,
    box,
    nextSeq: () => d.store.allocateSeq(),
    now,
    publish: d.publish,
    boxKeyOf: (a) => d.trust.get(a)?.boxKey ?? node?.machine.registry.agent(a)?.boxKey,
  });
  const homeOf = (agent: string) => node?.machine.registry.agent(agent)?.home ?? d.trust.get(agent)?.home;
  /** agents of other homes that sent their envelopes here (fail-over): they get their downlink here */
  const guests = new Set<string>();
  const relay = new CommitRelay({
    self,
    outbox,
    downlink,
    guests,
    machine: () => node!.machine,
    blockStore,
    log,
  });

  node = new AggregatorNode({
    self,
    seed: identity.key.seed,
    genesis,
    store: blockStore,
    consortiumFile,
    link,
    consensus: config.consensus,
    bank,
    clock: now,
    ...(d.signatures === undefined ? {} : { signatures: d.signatures }),
    // ticked by the process's DutyClock
    tickMs: 0,
    onCommit: (out) => {
      // the shared wallet's seed is the bank's too: kept with the loan, across restarts
      for (const g of out.grants) keepSeed.run(g.tx.loanId, g.tx.sharedWallet, toHex(g.walletSeed));
      relay.onCommit(out);
    },
  });
  const running = node;
  const resubmitMs = config.consortium.resubmitMs;
  bills = new BillDesk({
    self,
    isBank: bank !== undefined,
    node: () => node,
    started: () => started,
    outbox,
    link,
    crypto,
    now,
    resubmitMs,
    log,
  });
  const registrar = new IdentityRegistrar({ self, node: running, trust: d.trust, now, resubmitMs, log });
  const pump = new OutboxPump({
    node: running,
    outbox,
    bills,
    registrar,
    downlink,
    started: () => started,
    now,
    resubmitMs,
    log,
  });
  const intervalMs = genesis.trading.intervalMs;
  const quota = new TxQuota(config.consortium.txQuotaPerInterval, intervalMs);
  registerLedgerHandlers(
    d.ingest,
    outbox,
    (env) => {
      if (homeOf(env.from) !== self) guests.add(env.from);
      pump.schedule();
    },
    (env) => (d.store.isStored(env.from, env.seq) ? undefined : quota.admit(env.from, now())),
    {
      // energy enters the ledger only as the readings ingested here prove it
      [MSG_METER_SUMMARY]: (env, body) =>
        d.evidence.checkSummary(env.from, body as MeterSummaryBody, genesis.trading.intervalMs),
    },
  );

  let announced = 0;
  return {
    node: running,
    link,
    outbox,
    start: async () => {
      // Peers that are up are connected before consensus starts; the others join when they come.
      await link.ready(3000);
      running.start();
      started = true;
      for (const row of outbox.due(Number.MAX_SAFE_INTEGER))
        if (homeOf(row.agent) !== self) guests.add(row.agent);
      pump.pump();
      announced = Math.floor((now() + config.consortium.announceLeadMs) / intervalMs);
      // Agents of this home whose certificate arrived (a login, the certificate directory) are
      // registered in the ledger at once, before their first ledger envelope.
      d.clock.every("register-agents", 250, (t) => registrar.sweep(t));
      d.clock.every("ledger-pump", 250, () => pump.pump());
      d.clock.every("announce", 250, (t) => {
        const next = Math.floor((t + config.consortium.announceLeadMs) / intervalMs);
        if (next > announced) {
          announced = next;
          downlink.announce(announceInterval(running.machine.state, next));
        }
      });
      d.clock.every("node-duties", 1000, () => running.tick());
      log.info("ledger started", {
        members: consortium.members.length,
        bank: bank !== undefined,
        height: running.height,
        peers: link.connectedPeers(),
      });
    },
    stop: async () => {
      // (the process stops its DutyClock before this)
      // envelopes ingest still flushes stay in the outbox for the next start
      const wasStarted = started;
      started = false;
      if (wasStarted) running.stop();
      await link.close();
      blockStore.close();
    },
  };
}
