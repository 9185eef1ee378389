/**
 * A consortium of N real `gridlet aggregator` processes (each with its embedded broker, SQLite store and
 * ledger, MQTT between them), a paced load of agent-signed transactions, K members killed -9 halfway
 * through the measurement, and optionally a WAN round trip between members. Prints one JSON object.
 *
 *   gridlet bench consortium-scale --aggregators 16 [--kill 5] [--rtt-ms 40] [--seconds 30] [--rate 10]
 *     [--slot-timeout-ms 500]
 *
 * The round trip uses network namespaces, veth pairs on a bridge and `tc netem` (root, iproute2, a kernel
 * with sch_netem); where the kernel has no netem, members reach each other's brokers through a userspace
 * delay relay on loopback instead (bench/harness/delay-relay.ts), and the JSON says which was used.
 * Latency is from an agent's publish to the `tx.result` its home aggregator sends after the block commits.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONFIG } from "../aggregator/consensus/types.js";
import { type RunningRelay, startDelayRelay } from "./harness/delay-relay.js";
import { freePort } from "./harness/net.js";
import { createNsNetwork, type NsNetwork, netemAvailable } from "./harness/netns.js";
import { makeProcessConsortium, RawAgent } from "./harness/process-consortium.js";
import { type Proc, spawnGridlet } from "./harness/procs.js";
import { tempDir, waitFor } from "./harness/tmp.js";

export interface ScaleOptions {
  aggregators: number;
  /** members killed -9 halfway through the measurement */
  kill: number;
  /** round trip between two members, ms (0: loopback) */
  rttMs: number;
  /** the measurement window, after a warm-up */
  seconds: number;
  /** transactions offered per second, spread over the live members' agents */
  rate: number;
  /** run every member in its own network namespace even without a delay */
  netns: boolean;
  /** consensus settings for every member (default: the production defaults) */
  consensus: Record<string, unknown>;
}

const DEFAULTS: ScaleOptions = {
  aggregators: 4,
  kill: 0,
  rttMs: 0,
  seconds: 30,
  rate: 10,
  netns: false,
  consensus: {},
};

const HTTP_TOKEN = "bench-consortium-scale-token";
/** the market interval of the bench's consortium */
const INTERVAL_MS = 60_000;
const BROKER_PORT = 1883;
const HTTP_PORT = 9470;

interface Sent {
  agent: number;
  at: number;
  txId: string;
}

interface StatusSample {
  rounds: number;
  signatureChecks: number;
  viewChanges: Record<string, number>;
  height: number;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Members killed: spread over the consortium (never member 0, the bank, unless all are asked for). */
export function victims(n: number, k: number): number[] {
  if (k <= 0) return [];
  const out = new Set<number>();
  for (let j = 0; j < k; j++) out.add(n - 1 - Math.floor((j * n) / k));
  for (let i = n - 1; out.size < k && i >= 0; i--) out.add(i);
  return [...out].sort((a, b) => a - b);
}

function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

async function status(url: string): Promise<StatusSample | null> {
  try {
    const res = await fetch(`${url}/api/status`, {
      headers: { authorization: `Bearer ${HTTP_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) return null;
    const s = (await res.json()) as {
      ledger: { height: number; viewChanges: Record<string, number>; consensus: StatusSample } | null;
    };
    if (s.ledger === null) return null;
    return {
      rounds: s.ledger.consensus.rounds,
      signatureChecks: s.ledger.consensus.signatureChecks,
      viewChanges: s.ledger.viewChanges,
      height: s.ledger.height,
    };
  } catch {
    return null;
  }
}

/** Stops the members with SIGTERM and counts their exit codes. */
async function stopAll(members: Proc[]): Promise<Record<string, number>> {
  const exitCodes: Record<string, number> = {};
  for (const code of await Promise.all(members.map((p) => p.stop("SIGTERM"))))
    exitCodes[String(code)] = (exitCodes[String(code)] ?? 0) + 1;
  return exitCodes;
}

const loadAverage1m = () => Math.round(loadavg()[0] * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;

export async function run(opts: Partial<ScaleOptions> = {}): Promise<Record<string, unknown>> {
  const o: ScaleOptions = { ...DEFAULTS, ...opts };
  const n = o.aggregators;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--aggregators: ${n} is not a positive integer`);
  if (!Number.isSafeInteger(o.kill) || o.kill < 0 || o.kill >= n)
    throw new Error(`--kill: ${o.kill} must be between 0 and ${n - 1}`);
  const { dir, cleanup } = tempDir("gridlet-bench-scale-");
  let net: NsNetwork | undefined;
  let relay: RunningRelay | undefined;
  let delay: "none" | "netem" | "relay" = "none";
  let delayNote: string | undefined;
  const procs: Proc[] = [];
  const agents: RawAgent[] = [];
  try {
    // ---- the network ----
    let listen: { host: string; port: number }[];
    let advertise: string[] | undefined;
    let httpListen: { host: string; port: number }[];
    const probe = o.rttMs > 0 || o.netns ? netemAvailable() : undefined;
    if (probe !== undefined && (probe.ok || (o.netns && o.rttMs === 0))) {
      net = createNsNetwork(n, probe.ok ? o.rttMs / 2 : 0);
      delay = o.rttMs > 0 ? "netem" : "none";
      listen = net.ips.map((host) => ({ host, port: BROKER_PORT }));
      httpListen = net.ips.map((host) => ({ host, port: HTTP_PORT }));
    } else {
      listen = [];
      httpListen = [];
      for (let i = 0; i < n; i++) {
        listen.push({ host: "127.0.0.1", port: await freePort() });
        httpListen.push({ host: "127.0.0.1", port: await freePort() });
      }
      if (o.rttMs > 0) {
        delayNote = probe?.ok === false ? probe.why : undefined;
        const relayPorts: number[] = [];
        for (let i = 0; i < n; i++) relayPorts.push(await freePort());
        relay = await startDelayRelay(
          listen.map((l, i) => ({ listen: relayPorts[i], target: l.port })),
          o.rttMs / 2,
        );
        delay = "relay";
        advertise = relayPorts.map((p) => `mqtt://127.0.0.1:${p}`);
      }
    }

    // ---- the consortium ----
    // The load is the bench's: each agent's share of it, with room to spare, fits the per-interval quota of
    // ledger transactions (64 by default, which 10 tx/s over 4 agents would exceed in 26 s and look
    // like a stall of consensus).
    const txQuota = Math.max(64, 2 * Math.ceil((o.rate * INTERVAL_MS) / 1000 / Math.max(1, n - o.kill)));
    const k = await makeProcessConsortium(dir, {
      n,
      trading: { intervalMs: INTERVAL_MS },
      txQuotaPerInterval: txQuota,
      consensus: {
        slotTimeoutMs: DEFAULT_CONFIG.slotTimeoutMs,
        checkpointInterval: DEFAULT_CONFIG.checkpointInterval,
        ...o.consensus,
      },
      listen,
      ...(advertise === undefined ? {} : { advertise }),
      http: { listen: httpListen, token: HTTP_TOKEN },
    });
    const startedAt = Date.now();
    k.configs.forEach((c, i) => {
      // GRIDLET_BENCH_LOG_LEVEL=debug: the members' log level (default info)
      const level = process.env.GRIDLET_BENCH_LOG_LEVEL;
      const env = level === undefined ? {} : { GRIDLET_LOG_LEVEL: level };
      procs.push(spawnGridlet(["aggregator", "--config", c], env, net?.prefix(i) ?? []));
    });
    await Promise.all(procs.map((p) => p.waitForOutput(/ledger started/, 60_000 + 3_000 * n)));
    const startupMs = Date.now() - startedAt;
    for (const [i, id] of k.ids.entries()) agents.push(new RawAgent(k.ca, `agent${i}`, id, dir));
    // busy brokers may miss a CONNACK deadline: each agent tries again until the start-up budget is spent
    await Promise.all(
      agents.map((a, i) =>
        waitFor(
          `agent${i} connected`,
          () => a.connect(k.urls[i], k.ids[i]).then(() => true),
          60_000 + 2_000 * n,
          500,
        ),
      ),
    );
    const regs = agents.map((a) => a.send("wallet.register", { wallet: a.wallet }));
    const registeredAt = Date.now();
    try {
      await waitFor(
        "every agent's wallet registered",
        () => agents.every((a, i) => a.results.has(regs[i])),
        60_000 + 2_000 * n,
        50,
      );
    } catch (e) {
      // The consortium did not commit the agents' registrations within the start-up budget (51 processes
      // on two cores): the JSON says how far it got, not only that it timed out.
      const st = await Promise.all(procs.map((_, i) => status(k.httpUrls[i])));
      const heights = st.map((x) => x?.height ?? 0).sort((a, b) => a - b);
      const viewChanges: Record<string, number> = {};
      for (const x of st)
        for (const [cause, v] of Object.entries(x?.viewChanges ?? {}))
          viewChanges[cause] = (viewChanges[cause] ?? 0) + v;
      const rss = procs.map((p) => rssMb(p.child.pid)).filter((x): x is number => x !== null);
      const load = loadAverage1m();
      const exitCodes = await stopAll(procs);
      return {
        bench: "consortium-scale",
        aggregators: n,
        completed: false,
        error: e instanceof Error ? e.message : String(e),
        registered: agents.filter((a, i) => a.results.has(regs[i])).length,
        startupMs,
        waitedMs: Date.now() - registeredAt,
        heights: { min: heights[0], median: heights[heights.length >> 1], max: heights.at(-1) },
        membersAnswering: st.filter((x) => x !== null).length,
        viewChanges,
        rssMbPerMember: rss.length === 0 ? null : round1(rss.reduce((a, b) => a + b, 0) / rss.length),
        exitCodes,
        consensus: { ...DEFAULT_CONFIG, ...o.consensus },
        cores: cpus().length,
        loadAverage1m: load,
      };
    }

    // ---- the load ----
    const killed = victims(n, o.kill);
    const dead = new Set<number>();
    const sent: Sent[] = [];
    let probeNo = 0;
    let rr = 0;
    let carry = 0;
    let last = Date.now();
    const offer = () => {
      const now = Date.now();
      carry += (o.rate * (now - last)) / 1000;
      last = now;
      for (; carry >= 1; carry--) {
        let a = rr++ % n;
        for (let tries = 0; dead.has(a) && tries < n; tries++) a = rr++ % n;
        const txId = agents[a].send("order.cancel", { orderId: `probe-${++probeNo}` });
        sent.push({ agent: a, at: Date.now(), txId });
      }
    };
    const feeder = setInterval(offer, 20);
    const warmupMs = Math.max(5_000, Math.min(15_000, (o.seconds * 1000) / 3));
    await sleep(warmupMs);
    const live = () => procs.map((_, i) => i).filter((i) => !dead.has(i));
    const before = await Promise.all(procs.map((_, i) => status(k.httpUrls[i])));
    const t0 = Date.now();
    let killAt: number | null = null;
    if (killed.length > 0) {
      await sleep((o.seconds * 1000) / 2);
      killAt = Date.now();
      for (const i of killed) {
        procs[i].child.kill("SIGKILL");
        dead.add(i);
      }
      await sleep(o.seconds * 1000 - (Date.now() - t0));
    } else await sleep(o.seconds * 1000);
    const t1 = Date.now();
    clearInterval(feeder);
    const after = await Promise.all(procs.map((_, i) => (dead.has(i) ? null : status(k.httpUrls[i]))));
    const rss = live()
      .map((i) => rssMb(procs[i].child.pid))
      .filter((x): x is number => x !== null);

    // ---- let what was offered in the window finish ----
    const inWindow = sent.filter((s) => s.at >= t0 && s.at <= t1);
    const resultAt = (s: Sent) => agents[s.agent].resultAt.get(s.txId);
    // what a killed member had accepted and not committed died with it: counted apart
    const countable = inWindow.filter((s) => !dead.has(s.agent) || resultAt(s) !== undefined);
    const lostWithKilled = inWindow.length - countable.length;
    const drainUntil = Date.now() + 30_000 + 500 * n;
    while (Date.now() < drainUntil && countable.some((s) => resultAt(s) === undefined)) await sleep(100);

    const latencies = countable
      .map((s) => (resultAt(s) ?? Number.NaN) - s.at)
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    const uncommitted = countable.filter((s) => resultAt(s) === undefined).length;
    // The longest time in the window (and its drain) with no transaction committing anywhere.
    const arrivals = agents
      .flatMap((a) => [...a.resultAt.values()])
      .filter((t) => t >= t0)
      .sort((a, b) => a - b);
    const end = uncommitted > 0 ? drainUntil : Math.max(t1, arrivals.at(-1) ?? t1);
    let longestStallMs = 0;
    let prev = t0;
    for (const t of [...arrivals.filter((x) => x <= end), end]) {
      longestStallMs = Math.max(longestStallMs, t - prev);
      prev = t;
    }
    const committedInWindow = arrivals.filter((t) => t <= t1).length;

    // ---- consensus counters of the members that lived through the window ----
    const perRound: number[] = [];
    const rounds: number[] = [];
    const viewChanges: Record<string, number> = {};
    for (const i of live()) {
      const b = before[i];
      const a = after[i];
      if (b === null || a === null) continue;
      const dr = a.rounds - b.rounds;
      rounds.push(dr);
      if (dr > 0) perRound.push((a.signatureChecks - b.signatureChecks) / dr);
      for (const [cause, v] of Object.entries(a.viewChanges))
        viewChanges[cause] = (viewChanges[cause] ?? 0) + v - (b.viewChanges[cause] ?? 0);
    }
    const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((x, y) => x + y, 0) / xs.length);
    const seconds = (t1 - t0) / 1000;

    // ---- stop ----
    const exitCodes = await stopAll(live().map((i) => procs[i]));

    const verifies = mean(perRound);
    return {
      bench: "consortium-scale",
      aggregators: n,
      completed: true,
      killed: killed.length,
      killedMembers: killed.map((i) => k.ids[i]),
      killedAtSecond: killAt === null ? null : round1((killAt - t0) / 1000),
      rttMs: o.rttMs,
      delay,
      ...(delayNote === undefined ? {} : { delayNote }),
      offeredTxPerSec: o.rate,
      txQuotaPerInterval: txQuota,
      seconds: round1(seconds),
      committedTxPerSec: round1(committedInWindow / seconds),
      latencyMs: {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        samples: latencies.length,
      },
      uncommitted,
      uncommittedByMember: Object.fromEntries(
        k.ids
          .map(
            (id, i) =>
              [id, countable.filter((s) => s.agent === i && resultAt(s) === undefined).length] as const,
          )
          .filter(([, c]) => c > 0),
      ),
      lostWithKilled,
      longestStallMs,
      verifiesPerMemberPerRound: verifies === null ? null : Math.round(verifies),
      verifiesPerMemberPerRoundMax: perRound.length === 0 ? null : Math.round(Math.max(...perRound)),
      verifiesPerRoundOverN: verifies === null ? null : Math.round((verifies / n) * 100) / 100,
      roundsPerSec: rounds.length === 0 ? null : round1((mean(rounds) ?? 0) / seconds),
      viewChanges,
      rssMbPerMember: rss.length === 0 ? null : round1(mean(rss) ?? 0),
      rssMbPerMemberMax: rss.length === 0 ? null : round1(Math.max(...rss)),
      startupMs,
      exitCodes,
      consensus: { ...DEFAULT_CONFIG, ...o.consensus },
      cores: cpus().length,
      loadAverage1m: loadAverage1m(),
    };
  } finally {
    for (const a of agents) await a.close().catch(() => undefined);
    await Promise.all(procs.map((p) => p.stop("SIGKILL").catch(() => null)));
    // GRIDLET_BENCH_LOGS=DIR keeps each member's output there
    const logs = process.env.GRIDLET_BENCH_LOGS;
    if (logs !== undefined) {
      mkdirSync(logs, { recursive: true });
      for (const [i, p] of procs.entries()) writeFileSync(join(logs, `eag${i}.log`), p.output());
    }
    await relay?.stop();
    net?.close();
    cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const opts: Partial<ScaleOptions> = {};
  for (const [flag, key] of [
    ["--aggregators", "aggregators"],
    ["--kill", "kill"],
    ["--rtt-ms", "rttMs"],
    ["--seconds", "seconds"],
    ["--rate", "rate"],
  ] as const) {
    const v = arg(flag);
    if (v !== undefined) opts[key] = v;
  }
  if (process.argv.includes("--netns")) opts.netns = true;
  const slotTimeoutMs = arg("--slot-timeout-ms");
  if (slotTimeoutMs !== undefined) opts.consensus = { slotTimeoutMs };
  const result = await run(opts);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.completed === false ? 1 : 0);
}
