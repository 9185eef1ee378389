import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** dist/cli/main.js, found from this compiled file (dist/cli/demo/supervisor.js). */
export const GRIDLET_MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "main.js");

export interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | null>;
  /** killed on purpose (the demo's kill -9): its end is not a failure */
  killed?: boolean;
}

/**
 * Starts gridlet processes, writes each one's full output to its own log file, and shows the lines that
 * match `show` on the console with the process name in front. Stops them all on request.
 */
export class Supervisor {
  private readonly children: Child[] = [];
  private readonly logs: WriteStream[] = [];

  constructor(
    private readonly logDir: string,
    private readonly show: (name: string, line: string) => string | undefined,
    private readonly print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  ) {}

  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const child = spawn(process.execPath, [GRIDLET_MAIN, ...args], {
      env: { ...process.env, GRIDLET_LOG_FORMAT: "json", GRIDLET_LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(this.logDir, `${name}.log`), { flags: "a" });
    this.logs.push(log);
    for (const stream of [child.stdout!, child.stderr!]) {
      const rl = createInterface({ input: stream });
      rl.on("line", (line) => {
        log.write(`${line}\n`);
        const shown = this.show(name, line);
        if (shown !== undefined) this.print(`${name.padEnd(10)} ${shown}`);
      });
    }
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const c = { name, process: child, exited };
    this.children.push(c);
    return c;
  }

  running(): Child[] {
    return this.children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
  }

  /** SIGTERM to the given children (default: all), SIGKILL to any still running after `graceMs`. */
  async stop(which: Child[] = this.children, graceMs = 10_000): Promise<void> {
    const live = which.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    for (const c of live) c.process.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const c of live) if (c.process.exitCode === null) c.process.kill("SIGKILL");
    }, graceMs);
    await Promise.all(live.map((c) => c.exited));
    clearTimeout(timer);
  }

  /** Kills a child on purpose (SIGKILL) and waits for it to go. */
  async kill(c: Child): Promise<void> {
    c.killed = true;
    c.process.kill("SIGKILL");
    await c.exited;
  }

  /** The children that ended other than with exit code 0, leaving out those killed on purpose. */
  unclean(): { name: string; how: string }[] {
    return this.children
      .filter((c) => !c.killed && (c.process.exitCode !== 0 || c.process.signalCode !== null))
      .map((c) => ({
        name: c.name,
        how:
          c.process.signalCode !== null
            ? `killed by ${c.process.signalCode}`
            : c.process.exitCode === null
              ? "still running"
              : `exit ${c.process.exitCode}`,
      }));
  }

  get count(): number {
    return this.children.length;
  }

  async close(): Promise<void> {
    await this.stop();
    await Promise.all(this.logs.map((l) => new Promise<void>((r) => l.end(r))));
  }
}
