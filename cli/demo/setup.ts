import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "#yaml";
import { signConsortium } from "../../aggregator/consensus/consortium.js";
import { createGenesis, writeGenesisFile } from "../../aggregator/node/genesis.js";
import type { Issued } from "../../protocol/ca-dir.js";
import { CaDirectory } from "../../protocol/ca-dir.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { readKeyFile } from "../../protocol/keyfile.js";
import { TlsCa } from "../../protocol/x509/tls-ca.js";
import { createConsortiumIdentities } from "./identities.js";
import { freeListenPort } from "./ports.js";

/** Recorded households (hardware/logs): two with rooftop PV, two without. */
export const HOUSEHOLDS = ["h1-pv-family.csv", "h2-pv-couple.csv", "h3-family.csv", "h4-single.csv"];

export interface DemoOptions {
  dir: string;
  logsDir: string;
  aggregators: number;
  agentsPer: number;
  /** market interval of the demo, wall-clock ms */
  intervalMs: number;
  /** hours of recorded meter log replayed per market interval */
  hoursPerInterval: number;
  initialAllocationMc: number;
}

export interface DemoAggregator {
  id: string;
  config: string;
  ledgerDb: string;
  url: string;
  /** the aggregator's dashboard (its HTTP endpoint also serves /metrics, /api/status, /healthz) */
  dashboard: string;
}

export interface DemoAgent {
  id: string;
  home: string;
  household: string;
  config: string;
  store: string;
  /** the agent's HTTP endpoint: /metrics, /api/status, /healthz */
  http: string;
}

export interface DemoLayout {
  caDir: string;
  genesisFile: string;
  consortiumFile: string;
  aggregators: DemoAggregator[];
  agents: DemoAgent[];
}

/**
 * Writes everything a local consortium needs into `o.dir`: a CA and identities, the CA-signed consortium
 * and genesis files (the first aggregator runs the credit bank), one configuration per aggregator
 * (embedded broker on a free loopback port, MQTT over TLS with the CA's own TLS certificates) and per agent (a replayed household log, trading and credit
 * on, every aggregator listed for fail-over, its home first).
 */
export async function writeDemoLayout(o: DemoOptions): Promise<DemoLayout> {
  const ids = createConsortiumIdentities(o.dir, o.aggregators, o.agentsPer);
  const ca = new CaDirectory(ids.caDir);
  // Ports below the ephemeral range: with 16 aggregators and more, the processes' own outgoing connections
  // (each member to every peer's broker) would otherwise take a port chosen here before its owner listens.
  const taken = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await freeListenPort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const ports: number[] = [];
  for (const _ of ids.aggregators) ports.push(await port());
  // MQTT over TLS between every pair of processes, as deployed: `gridlet ca init` and `ca tls-server`
  const tlsCa = new TlsCa(ids.caDir);
  await tlsCa.init("gridlet-demo-ca");
  const tls: DemoTls = { ca: tlsCa.certPath, servers: [] };
  for (const a of ids.aggregators) {
    const t = await tlsCa.issueServer({ name: a.cert.id, hosts: ["127.0.0.1", "localhost"] });
    tls.servers.push({ cert: t.certPath, key: t.keyPath });
  }
  const members = ids.aggregators.map((a, i) => ({
    id: a.cert.id,
    publicKey: a.cert.publicKey,
    broker: `mqtts://127.0.0.1:${ports[i]}`,
  }));
  const caSeed = readKeyFile(ca.keyPath).seed;
  const consortiumFile = join(o.dir, "consortium.json");
  writeFileSync(
    consortiumFile,
    JSON.stringify(
      signConsortium({ v: 1, name: "gridlet-demo", issued: Date.now(), members }, caSeed, defaultEd25519),
      null,
      2,
    ),
  );
  const bank = ids.aggregators[0].cert;
  const genesisFile = join(o.dir, "genesis.json");
  writeGenesisFile(
    genesisFile,
    createGenesis(ca, {
      consortium: { name: "gridlet-demo", members },
      issued: Date.now() - 60_000,
      trading: {
        intervalMs: o.intervalMs,
        confirmWindowMs: Math.round(o.intervalMs / 2),
        initialAllocationMc: o.initialAllocationMc,
        rewards: { periodIntervals: 4 },
      },
      // The demo's "regular income" is measured in intervals of seconds, not weeks.
      credit: { eligibility: { incomePeriodDays: 1, incomePeriods: 1, minIncomePeriods: 1 } },
      banks: { [bank.id]: { publicKey: bank.publicKey, wallet: `bank-${bank.id}`, fundsMc: 1_000_000 } },
    }),
  );
  const httpPorts: number[] = [];
  for (const _ of [...ids.aggregators, ...ids.agents]) httpPorts.push(await port());
  const aggregators = ids.aggregators.map((a, i) =>
    writeAggregatorConfig(o, ca, a, ports[i], httpPorts[i], consortiumFile, genesisFile, tls, i),
  );
  const speed = Math.round((o.hoursPerInterval * 3_600_000) / o.intervalMs);
  const agents = ids.agents.map((a, i) => {
    const household = HOUSEHOLDS[i % HOUSEHOLDS.length];
    const homeIndex = ids.aggregators.findIndex((g) => g.cert.id === a.cert.home);
    const order = [aggregators[homeIndex], ...aggregators.filter((_, j) => j !== homeIndex)];
    const httpPort = httpPorts[ids.aggregators.length + i];
    return writeAgentConfig(o, ca, a, household, speed, order, ids.aggregators, httpPort, tls.ca);
  });
  return { caDir: ids.caDir, genesisFile, consortiumFile, aggregators, agents };
}

/** The TLS CA certificate every client checks, and each aggregator's server certificate and key. */
interface DemoTls {
  ca: string;
  servers: { cert: string; key: string }[];
}

function writeAggregatorConfig(
  o: DemoOptions,
  ca: CaDirectory,
  a: Issued,
  port: number,
  httpPort: number,
  consortiumFile: string,
  genesisFile: string,
  tls: DemoTls,
  index: number,
): DemoAggregator {
  const id = a.cert.id;
  const config = join(o.dir, `${id}.yaml`);
  const ledgerDb = join(o.dir, "data", `${id}.ledger.db`);
  writeFileSync(
    config,
    stringify({
      version: 1,
      id,
      identity: { key: a.keyPath, cert: a.certPath, ca: ca.certPath, revocations: ca.revocationsPath },
      broker: { embedded: { host: "127.0.0.1", port, tls: tls.servers[index] }, tls: { ca: tls.ca } },
      store: { path: join(o.dir, "data", `${id}.sqlite`) },
      trust: { certDir: join(ca.dir, "certs") },
      consortium: {
        file: consortiumFile,
        ledgerDb,
        resubmitMs: 3000,
        announceLeadMs: Math.round(o.intervalMs / 4),
      },
      genesis: { file: genesisFile },
      consensus: { slotTimeoutMs: 1500, checkpointInterval: 8 },
      http: { host: "127.0.0.1", port: httpPort },
    }),
  );
  return {
    id,
    config,
    ledgerDb,
    url: `mqtts://127.0.0.1:${port}`,
    dashboard: `http://127.0.0.1:${httpPort}/`,
  };
}

function writeAgentConfig(
  o: DemoOptions,
  ca: CaDirectory,
  a: Issued,
  household: string,
  speed: number,
  aggregatorsInOrder: DemoAggregator[],
  issuedAggregators: Issued[],
  httpPort: number,
  tlsCaPath: string,
): DemoAgent {
  const id = a.cert.id;
  const home = aggregatorsInOrder[0];
  const certOf = (aggId: string) => issuedAggregators.find((g) => g.cert.id === aggId)!.certPath;
  const config = join(o.dir, `${id}.yaml`);
  const store = join(o.dir, "data", `${id}.sqlite`);
  writeFileSync(
    config,
    stringify({
      version: 1,
      id,
      identity: { key: a.keyPath, cert: a.certPath, ca: ca.certPath, revocations: ca.revocationsPath },
      aggregator: { id: home.id, cert: certOf(home.id) },
      aggregators: aggregatorsInOrder.map((g) => ({ id: g.id, url: g.url, cert: certOf(g.id) })),
      mqtt: {
        url: home.url,
        tls: { ca: tlsCaPath },
        reconnectMinMs: 250,
        reconnectMaxMs: 2000,
        receiptTimeoutMs: 5000,
        failoverAfterMs: 3000,
      },
      store: { path: store },
      intervalMs: 250,
      homeAssistant: { enabled: false },
      http: { host: "127.0.0.1", port: httpPort },
      meters: [{ id: "main", driver: "replay", file: join(o.logsDir, household), speed, loop: true }],
      trading: {
        enabled: true,
        market: { intervalMs: o.intervalMs, depositPct: 10, maxPriceMcPerKwh: 2000 },
        limits: { historyIntervals: 1, maxSellWh: 10_000, maxBuyWh: 10_000 },
        settleDelayMs: Math.round(o.intervalMs / 8),
        credit: { enabled: true, bank: issuedAggregators[0].cert.id },
      },
    }),
  );
  return { id, home: home.id, household, config, store, http: `http://127.0.0.1:${httpPort}` };
}
