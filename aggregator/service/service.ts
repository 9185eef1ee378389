import { randomBytes } from "node:crypto";
import type { LoadedIdentity } from "../../agent/runtime/identity.js";
import { fromHex, toHex } from "../../protocol/bytes.js";
import { boxKeyPairFromSecret } from "../../protocol/crypto/box.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { decodeEnvelope, type Envelope, envelopeSigningBytes } from "../../protocol/envelope.js";
import { describeError } from "../../protocol/errors.js";
import type { TrustStore } from "../../protocol/identity.js";
import type { Logger } from "../../protocol/log.js";
import { creditBillSchema } from "../../protocol/messages/credit.js";
import { MSG_CREDIT_BILL } from "../../protocol/messages/downlink.js";
import { loadConsortiumDocument } from "../consensus/consortium.js";
import { CreditBankService } from "../credit/service.js";
import type { Ingest } from "../ingest/ingest.js";
import type { AggregatorStore } from "../ingest/store.js";
import { BlockStore } from "../ledger/store.js";
import { announceInterval } from "../market/announce.js";
import { loadGenesisFile } from "../node/genesis.js";
import { AggregatorNode } from "../node/node.js";
import { CommitRelay } from "./commit.js";
import type { LedgerServiceConfig } from "./config.js";
import { Downlink } from "./downlink.js";
import { LedgerServiceError } from "./errors.js";
import { registerLedgerHandlers } from "./handlers.js";
import { LedgerOutbox, type PendingRow } from "./outbox.js";
import { PeerLink } from "./peer-link.js";

export interface LedgerServiceDeps {
  config: LedgerServiceConfig;
  self: string;
  identity: LoadedIdentity;
  trust: TrustStore;
  store: AggregatorStore;
  storePath: string;
  ingest: Ingest;
  /** publishes on this aggregator's own broker */
  publish: (topic: string, payload: Buffer) => void;
  log: Logger;
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
/** a bill the bank could not pay is given up after this many forwards */
const MAX_BILL_ATTEMPTS = 20;

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
  // Bills for this bank, forwarded by peers or taken in here: (seller:seq) → when last submitted.
  const billsSubmitted = new Map<string, number>();
  const payAtBank = (raw: string, via: string): boolean => {
    if (!started) return false; // forwarded again later
    try {
      const env = decodeEnvelope(Buffer.from(raw, "utf8"));
      if (env.type !== MSG_CREDIT_BILL) throw new Error(`type ${env.type} is not ${MSG_CREDIT_BILL}`);
      const bill = creditBillSchema.parse(env.body);
      if (env.from !== bill.seller) throw new Error(`bill of seller ${bill.seller} signed by ${env.from}`);
      const key = node!.machine.registry.agentKey(env.from, now());
      if (!crypto.verify(fromHex(env.sig)!, envelopeSigningBytes(env), fromHex(key)!))
        throw new Error("the seller's signature does not verify");
      const loan = node!.machine.credit().loans[bill.payment.loanId];
      if (loan?.payments.some((p) => p.paymentId === bill.payment.paymentId)) return true;
      const k = `${env.from}:${env.seq}`;
      const last = billsSubmitted.get(k);
      if (last !== undefined && now() - last < config.consortium.resubmitMs) return false;
      billsSubmitted.set(k, now());
      node!.submitBill(bill);
      return false;
    } catch (e) {
      log.warn("credit bill refused at the bank", { via, error: describeError(e) });
      return true;
    }
  };

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
    onBill: bank === undefined ? undefined : (peer, payload) => payAtBank(payload.toString("utf8"), peer),
    nextLoginSeq: () => d.store.allocateSeq() + now() * 1000,
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
    onCommit: (out) => {
      // the shared wallet's seed is the bank's too: kept with the loan, across restarts
      for (const g of out.grants) keepSeed.run(g.tx.loanId, g.tx.sharedWallet, toHex(g.walletSeed));
      relay.onCommit(out);
    },
  });
  const running = node;

  /** identity registrations sent for this aggregator's agents: id → when */
  const registering = new Map<string, number>();
  const ensureRegistered = (agent: string): boolean => {
    if (running.machine.registry.agent(agent) !== undefined) return true;
    const cert = d.trust.get(agent);
    if (cert?.role !== "agent" || cert.home !== self) return false;
    const last = registering.get(agent);
    if (last === undefined || now() - last >= config.consortium.resubmitMs) {
      registering.set(agent, now());
      running.registerIdentity(cert);
      log.info("registering agent identity", { agent });
    }
    return false;
  };

  const submitRow = (row: PendingRow): void => {
    if (row.kind === "bill") {
      if (row.attempts >= MAX_BILL_ATTEMPTS) {
        log.warn("credit bill given up", { key: row.key });
        outbox.remove(row.key);
        return;
      }
      const env = JSON.parse(row.raw) as Envelope<{
        token?: { bank?: string };
        payment?: { loanId?: string; paymentId?: string };
      }>;
      const loan = running.machine.credit().loans[env.body.payment?.loanId ?? ""];
      if (loan?.payments.some((p) => p.paymentId === env.body.payment?.paymentId)) {
        outbox.remove(row.key);
        return;
      }
      const bankId = loan?.bank ?? env.body.token?.bank;
      if (bankId === undefined) {
        outbox.remove(row.key);
        return;
      }
      if (bankId === self && bank !== undefined) {
        if (payAtBank(row.raw, self)) outbox.remove(row.key);
      } else link.forwardBill(bankId, Buffer.from(row.raw, "utf8"));
      outbox.markSent(row.key, now());
      return;
    }
    if (!ensureRegistered(row.agent)) return;
    const env = JSON.parse(row.raw) as Envelope;
    if (running.submit(env)) {
      outbox.markSent(row.key, now());
      return;
    }
    outbox.remove(row.key);
    downlink.txResult(row.agent, {
      txId: row.key,
      ok: false,
      code: "REFUSED",
      message: "refused before consensus (signature or shape)",
    });
  };
  const pump = (): void => {
    if (!started) return;
    for (const row of outbox.due(now() - config.consortium.resubmitMs)) {
      try {
        submitRow(row);
      } catch (e) {
        log.error("cannot submit a pending envelope", { key: row.key, error: describeError(e) });
      }
    }
  };

  // One pass over the outbox per turn of the event loop, however many envelopes a batch accepted.
  let pumpScheduled = false;
  registerLedgerHandlers(d.ingest, outbox, (env) => {
    if (homeOf(env.from) !== self) guests.add(env.from);
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  });

  const intervalMs = genesis.trading.intervalMs;
  let announced = 0;
  let timer: NodeJS.Timeout | undefined;
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
      pump();
      announced = Math.floor((now() + config.consortium.announceLeadMs) / intervalMs);
      timer = setInterval(() => {
        // Agents of this home whose certificate arrived (a login, the certificate directory) are
        // registered in the ledger at once, before their first ledger envelope.
        const t = now();
        for (const cert of d.trust.all())
          if (cert.role === "agent" && cert.home === self && cert.notBefore <= t && t <= cert.notAfter)
            if (!d.trust.isRevoked(cert.id)) ensureRegistered(cert.id);
        pump();
        const next = Math.floor((now() + config.consortium.announceLeadMs) / intervalMs);
        if (next > announced) {
          announced = next;
          downlink.announce(announceInterval(running.machine.state, next));
        }
      }, 250);
      log.info("ledger started", {
        members: consortium.members.length,
        bank: bank !== undefined,
        height: running.height,
        peers: link.connectedPeers(),
      });
    },
    stop: async () => {
      if (timer !== undefined) clearInterval(timer);
      // envelopes ingest still flushes stay in the outbox for the next start
      const wasStarted = started;
      started = false;
      if (wasStarted) running.stop();
      await link.close();
      blockStore.close();
    },
  };
}
