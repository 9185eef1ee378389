import { execFile } from "node:child_process";
import type { Logger } from "./log.js";

/**
 * The service manager seam. systemd's NOTIFY_SOCKET is a unix datagram socket, which node cannot open
 * without a native module, so notifications go through the `systemd-notify` binary; the unit then needs
 * NotifyAccess=all because the datagrams come from that child's pid.
 */
export interface ServiceNotifier {
  ready(): void;
  watchdog(): void;
  status(text: string): void;
  stopping(): void;
  /** the watchdog period systemd expects pings within, if it set one */
  readonly watchdogMs: number | undefined;
}

export const nullNotifier: ServiceNotifier = {
  ready: () => undefined,
  watchdog: () => undefined,
  status: () => undefined,
  stopping: () => undefined,
  watchdogMs: undefined,
};

export function systemdNotifier(
  env: NodeJS.ProcessEnv,
  log: Logger,
  binary = "/usr/bin/systemd-notify",
): ServiceNotifier {
  if (env.NOTIFY_SOCKET === undefined || env.NOTIFY_SOCKET === "") return nullNotifier;
  const usec = Number(env.WATCHDOG_USEC);
  const watchdogMs = Number.isFinite(usec) && usec > 0 ? Math.floor(usec / 1000) : undefined;
  let warned = false;
  const send = (...args: string[]) => {
    execFile(binary, args, { env }, (err) => {
      if (err && !warned) {
        warned = true;
        log.warn("systemd-notify failed; is it installed and NotifyAccess=all set?", { error: err.message });
      }
    });
  };
  return {
    ready: () => send("--ready", `MAINPID=${process.pid}`),
    watchdog: () => send("WATCHDOG=1"),
    status: (text) => send(`STATUS=${text}`),
    stopping: () => send("STOPPING=1"),
    watchdogMs,
  };
}
