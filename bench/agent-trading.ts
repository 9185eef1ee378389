/**
 * The agent's trading step on a Pi-sized store: `Participant.step()` runs after every meter tick, so it
 * must cost little next to the tick itself. A real SQLite file holds `days` of 1 Hz readings of one
 * meter (15-minute intervals, as deployed); measured are the step with nothing to do (most ticks), the
 * step that plans and stores an order (once per interval), and, as the limit measured in the same run,
 * the tick's own work: one reading signed and stored with its outbox row. Prints one JSON object.
 * Run: node dist/bench/agent-trading.js
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { tradingConfigSchema } from "../agent/participant/config.js";
import { Participant } from "../agent/participant/participant.js";
import { readingBody } from "../agent/runtime/agent.js";
import { AgentStore } from "../agent/store/agent-store.js";
import { toHex } from "../protocol/bytes.js";
import { boxKeyPairFromSecret } from "../protocol/crypto/box.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { newKeyMaterial, signCertificate } from "../protocol/identity.js";
import { createLogger } from "../protocol/log.js";

const INTERVAL_MS = 900_000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function timeIt(n: number, f: (i: number) => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    f(i);
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

export async function run(days = 7, samples = 400): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-trading-"));
  try {
    const caKey = newKeyMaterial("ca");
    const key = newKeyMaterial("bench-agent");
    const aggKey = newKeyMaterial("agg");
    const cert = (id: string, k: typeof key, wallets?: string[]) =>
      signCertificate(
        {
          serial: `s-${id}`,
          id,
          role: id === "agg" ? "aggregator" : "agent",
          publicKey: toHex(defaultEd25519.publicKey(k.seed)),
          boxKey: toHex(boxKeyPairFromSecret(k.boxSecret).publicKey),
          notBefore: 0,
          notAfter: 9e15,
          issuer: "ca",
          ...(wallets ? { wallets } : {}),
        },
        caKey.seed,
      );
    const store = new AgentStore(join(dir, "agent.db"), "bench-agent", () => 1);
    const start = Math.floor(Date.now() / INTERVAL_MS) * INTERVAL_MS - days * 86_400_000;
    const total = days * 86_400;
    // a household importing 500 W on average: 1 Hz readings in day-sized transactions
    for (let d = 0; d < days; d++) {
      const batch = Array.from({ length: 86_400 }, (_, i) => {
        const s = d * 86_400 + i;
        return {
          meter: "main",
          ts: start + s * 1000,
          importWh: Math.floor(s / 7.2),
          exportWh: 0,
          powerW: 500,
        };
      });
      store.appendReadings(batch, (_r, seq) => ({ type: "reading", payload: String(seq) }));
    }
    let now = start + total * 1000 + 5000;
    const log = createLogger("bench:trading", { level: "silent" });
    const p = new Participant({
      id: "bench-agent",
      identity: {
        key,
        cert: cert("bench-agent", key, ["gwbenchwallet1"]),
        ca: cert("ca", caKey),
        revocations: undefined,
      },
      aggregator: cert("agg", aggKey),
      store,
      config: tradingConfigSchema.parse({
        enabled: true,
        market: { intervalMs: INTERVAL_MS },
        settleDelayMs: 2000,
        price: { fallbackReferenceMcPerKwh: 250 },
      }),
      log,
      now: () => now,
      kick: () => undefined,
    });
    p.step(); // registers the wallet and orders for the next interval
    const idle = timeIt(samples, () => {
      now += 1000;
      p.step();
    });
    // one order per interval: the clock moves a whole interval, whose readings are stored first (not timed)
    const ordering: number[] = [];
    let counter = total;
    for (let k = 0; k < Math.min(100, samples); k++) {
      const from = now;
      now += INTERVAL_MS;
      const batch = [];
      for (let t = from + 1000; t <= now; t += 60_000) {
        counter += 8;
        batch.push({ meter: "main", ts: t, importWh: counter, exportWh: 0, powerW: 500 });
      }
      store.appendReadings(batch, (_r, seq) => ({ type: "reading", payload: String(seq) }));
      ordering.push(...timeIt(1, () => p.step()));
    }
    ordering.sort((a, b) => a - b);
    const sent = p.counters.sent;
    let ts = now;
    const tick = timeIt(samples, () => {
      ts += 1000;
      const r = { meter: "main", ts, importWh: 1, exportWh: 0, powerW: 500 };
      store.appendReadings([r], (reading, seq) => ({
        type: "reading",
        payload: encodeEnvelope(
          signEnvelope(
            { type: "reading", from: "bench-agent", seq, ts, body: readingBody(reading) },
            key.seed,
          ),
        ).toString("utf8"),
      }));
    });
    store.close();
    const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
    const tickMedian = quantile(tick, 0.5);
    return {
      bench: "agent-trading",
      readingsInStore: total,
      days,
      intervalMs: INTERVAL_MS,
      messagesSent: sent,
      idleStep: { medianMs: r4(quantile(idle, 0.5)), p99Ms: r4(quantile(idle, 0.99)) },
      orderingStep: { medianMs: r4(quantile(ordering, 0.5)), p99Ms: r4(quantile(ordering, 0.99)) },
      /** the limit: what the tick already costs (sign + store one reading with its outbox row) */
      tickStore: { medianMs: r4(tickMedian), p99Ms: r4(quantile(tick, 0.99)) },
      idleRatioToTick: r4(quantile(idle, 0.5) / tickMedian),
      orderingRatioToTick: r4(quantile(ordering, 0.5) / tickMedian),
      /** per tick at 1 Hz: the ordering step happens once in intervalMs / 1000 ticks */
      amortisedRatioToTick: r4(
        (quantile(idle, 0.5) + quantile(ordering, 0.5) / (INTERVAL_MS / 1000)) / tickMedian,
      ),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(JSON.stringify(await run()));
}
