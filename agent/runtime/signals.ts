/**
 * Resolves when SIGTERM or SIGINT first arrives. The handlers stay installed after that, for as long as
 * the process runs: a second signal while the process stops (Ctrl-C in a terminal reaches a process
 * group that its supervisor also stops with SIGTERM; an operator pressing Ctrl-C again) is passed to
 * `onRepeat` instead of ending the process by the signal's default action half-way through its stop,
 * with stores and brokers left as they were. The handlers do not keep the process alive.
 */
export function untilSignal(onRepeat: (signal: string) => void = () => {}): Promise<string> {
  return new Promise((resolve) => {
    let first: string | undefined;
    const on = (sig: string) => () => {
      if (first === undefined) {
        first = sig;
        resolve(sig);
      } else onRepeat(sig);
    };
    process.on("SIGTERM", on("SIGTERM"));
    process.on("SIGINT", on("SIGINT"));
  });
}
