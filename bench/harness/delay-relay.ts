import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/**
 * A userspace stand-in for `tc netem delay` where the kernel has no sch_netem: TCP relays on loopback
 * that hold every chunk for `oneWayMs` in each direction, in order. It runs in its own process so that
 * its work does not disturb the timing of the process that measures. Each route listens on
 * 127.0.0.1:listen and forwards to 127.0.0.1:target.
 */
export interface DelayRoute {
  listen: number;
  target: number;
}

export interface RunningRelay {
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startDelayRelay(routes: DelayRoute[], oneWayMs: number): Promise<RunningRelay> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), JSON.stringify({ routes, oneWayMs })],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (l) => (l === "ready" ? resolve() : reject(new Error(`delay relay: ${l}`))));
    child.once("exit", (code) => reject(new Error(`delay relay exited ${code}`)));
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Pipes `from` into `to`, each chunk `ms` later, keeping the order (timers of one delay fire in order). */
function delayedPipe(from: Socket, to: Socket, ms: number): void {
  from.on("data", (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, ms);
  });
  from.on("end", () => setTimeout(() => to.end(), ms));
  from.on("close", () => setTimeout(() => to.destroy(), ms));
  from.on("error", () => undefined);
}

async function relayMain(spec: { routes: DelayRoute[]; oneWayMs: number }): Promise<void> {
  await Promise.all(
    spec.routes.map(
      (r) =>
        new Promise<void>((resolve, reject) => {
          const server = createServer((inbound) => {
            inbound.setNoDelay(true);
            const outbound = createConnection({ host: "127.0.0.1", port: r.target });
            outbound.setNoDelay(true);
            delayedPipe(inbound, outbound, spec.oneWayMs);
            delayedPipe(outbound, inbound, spec.oneWayMs);
          });
          server.once("error", reject);
          server.listen(r.listen, "127.0.0.1", () => resolve());
        }),
    ),
  );
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  relayMain(JSON.parse(process.argv[2] ?? "{}")).catch((e) => {
    process.stdout.write(`${(e as Error).message}\n`);
    process.exit(1);
  });
}
