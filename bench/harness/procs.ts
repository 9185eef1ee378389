import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The compiled CLI beside this compiled file (<out>/bench/harness/procs.js → <out>/cli/main.js). */
export const GRIDLET_MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "cli", "main.js");

/** The checkout's root: the output folder (dist/ or build/) sits directly in it. */
export const REPO_ROOT = join(dirname(GRIDLET_MAIN), "..", "..");

/** The agent's service entry point and node flags, as in systemd/gridlet-agent.service. */
export const AGENT_SERVICE_MAIN = join(dirname(GRIDLET_MAIN), "..", "agent", "runtime", "main.js");
export const AGENT_SERVICE_NODE_FLAGS = [
  "--max-semi-space-size=1",
  "--max-old-space-size=32",
  "--v8-pool-size=1",
];
export const AGENT_SERVICE_ENV = { MALLOC_ARENA_MAX: "2" };

export interface Proc {
  child: ChildProcess;
  /** everything written to stderr and stdout so far */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  /** sends `signal`, then SIGKILL if the process has not exited after `graceMs` (default 10 s) */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/**
 * Starts `node dist/cli/main.js ...args` as a separate process; `prefix` runs it through another command
 * first (e.g. `ip netns exec NS`, which execs node in place: the child's pid is node's).
 */
export function spawnGridlet(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Proc {
  return spawnNode([GRIDLET_MAIN, ...args], env, prefix);
}

/** Starts the agent as its systemd unit does (dist/agent/runtime/main.js, the unit's flags). */
export function spawnAgentService(
  config: string,
  flags = AGENT_SERVICE_NODE_FLAGS,
  env: NodeJS.ProcessEnv = {},
): Proc {
  return spawnNode([...flags, AGENT_SERVICE_MAIN, "--config", config], { ...AGENT_SERVICE_ENV, ...env });
}

/** `GRIDLET_BENCH_CPU_PROF=dir` writes a V8 CPU profile of every child into dir (node --cpu-prof). */
function profileFlags(): string[] {
  const dir = process.env.GRIDLET_BENCH_CPU_PROF;
  return dir === undefined || dir === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

function spawnNode(args: string[], env: NodeJS.ProcessEnv, prefix: string[] = []): Proc {
  const [cmd, ...rest] = [...prefix, process.execPath, ...profileFlags(), ...args];
  const child = spawn(cmd, rest, {
    env: { ...process.env, GRIDLET_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    waitForOutput: async (pattern, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null)
          throw new Error(`process exited (${child.exitCode}) before ${pattern}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    stop: async (signal = "SIGTERM", graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs a gridlet command to completion. */
export function runGridlet(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GRIDLET_MAIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
