/**
 * Real parts for tests and benchmarks: compiles the reference firmware with cc into a temporary folder,
 * makes a pseudo-terminal pair with socat, and runs the host firmware on one end as its own process.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from this file's place in dist/firmware-bridge/testing/. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const firmwareDir = join(repoRoot, "firmware-bridge", "firmware");

const CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"];

/** Compiles one C program from the firmware folder; returns the binary's path. */
export function compile(outDir: string, name: string, sources: string[]): string {
  const out = join(outDir, name);
  execFileSync("cc", [...CFLAGS, "-o", out, ...sources.map((s) => join(firmwareDir, s))], { stdio: "pipe" });
  return out;
}

export function buildHostFirmware(outDir: string): string {
  return compile(outDir, "gridlet-fw-host", ["host/main.c", "proto.c"]);
}

export function buildProtoTest(outDir: string): string {
  return compile(outDir, "test_proto", ["test/test_proto.c", "proto.c"]);
}

/** A fresh directory under the OS temp dir, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface PtyPair {
  /** the firmware's end */
  a: string;
  /** the host's end */
  b: string;
  stop(): Promise<void>;
}

export async function ptyPair(dir: string): Promise<PtyPair> {
  const a = join(dir, "a");
  const b = join(dir, "b");
  const proc = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  await until(
    `socat links (${stderr})`,
    () => existsSync(a) && existsSync(b) && /starting data transfer/.test(stderr),
    10_000,
  );
  return { a, b, stop: () => stopProcess(proc) };
}

export interface FirmwareProcess {
  proc: ChildProcess;
  bootId: number;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startFirmware(
  bin: string,
  port: string,
  args: string[] = [],
): Promise<FirmwareProcess> {
  const proc = spawn(bin, ["--port", port, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  await until(
    `firmware READY (${stderr})`,
    () => /READY boot_id=\d+/.test(stdout) || proc.exitCode !== null,
    10_000,
  );
  if (proc.exitCode !== null) throw new Error(`firmware exited with ${proc.exitCode}: ${stderr}`);
  const bootId = Number(/READY boot_id=(\d+)/.exec(stdout)?.[1]);
  return { proc, bootId, stderr: () => stderr, stop: () => stopProcess(proc) };
}

export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
  await done;
  clearTimeout(timer);
}
