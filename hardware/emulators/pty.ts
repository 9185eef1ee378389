/**
 * A pseudo-terminal pair made by socat, with stable link paths: `agent` for the driver's end and
 * `meter` for the emulator's. `kill()` makes both ends vanish as an unplugged adapter does; `restart()`
 * brings them back at the same paths (pointing at new /dev/pts numbers).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

export class PtyPair {
  private proc: ChildProcess | undefined;
  readonly agent: string;
  readonly meter: string;

  constructor(dir: string) {
    this.agent = join(dir, "agent");
    this.meter = join(dir, "meter");
  }

  static async start(dir: string): Promise<PtyPair> {
    const p = new PtyPair(dir);
    await p.restart();
    return p;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async restart(): Promise<void> {
    if (this.proc) await this.kill();
    rmSync(this.agent, { force: true });
    rmSync(this.meter, { force: true });
    const proc = spawn("socat", [`pty,raw,echo=0,link=${this.agent}`, `pty,raw,echo=0,link=${this.meter}`], {
      stdio: "ignore",
    });
    this.proc = proc;
    const t0 = Date.now();
    while (!(existsSync(this.agent) && existsSync(this.meter))) {
      if (proc.exitCode !== null) throw new Error(`socat exited with ${proc.exitCode}`);
      if (Date.now() - t0 > 10_000) throw new Error("socat did not create its links within 10 s");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Ends socat; both pty ends disappear and the links are removed. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((res) => {
      p.once("exit", () => res());
      p.kill("SIGTERM");
    });
    rmSync(this.agent, { force: true });
    rmSync(this.meter, { force: true });
  }
}
