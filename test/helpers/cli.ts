import { execFile, spawnSync } from "node:child_process";

import { GRIDLET_MAIN } from "../../bench/harness/procs.js";

export const CLI = GRIDLET_MAIN;

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled gridlet command as a separate process. */
export function gridlet(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As `gridlet`, without blocking: independent invocations can run side by side. */
export function gridletAsync(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        encoding: "utf8",
        timeout: opts.timeoutMs ?? 60_000,
      },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err === null ? 0 : typeof code === "number" ? code : null, stdout, stderr });
      },
    );
  });
}
