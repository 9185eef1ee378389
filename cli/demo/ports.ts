import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A free port below the kernel's ephemeral range, for a demo, bench or test that starts many processes: a port taken
 * from the ephemeral range (freePort) can be picked by one of their outgoing connections between the
 * choice and the listen, which then fails with EADDRINUSE.
 */
export async function freeListenPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    // not Linux: the usual default
  }
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000));
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}
