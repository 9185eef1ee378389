import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A free port below the kernel's ephemeral range, for a demo, bench or test that starts many processes: a port taken
 * from the ephemeral range (freePort) can be picked by one of their outgoing connections between the
 * choice and the listen, which then fails with EADDRINUSE. Never the same port twice in one process: 16
 * ports picked before any of them is listened on would otherwise collide about once in 180 runs (a
 * 16-process test failed so with ADDRESS_IN_USE).
 */
/** ports this process handed out already: a port is only checked free, not held, until its user listens */
const handedOut = new Set<number>();

export async function freeListenPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    // not Linux: the usual default
  }
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000));
    if (handedOut.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
}
