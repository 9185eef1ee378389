import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";

/**
 * Network namespaces for benches that need a WAN between processes: one namespace per member, joined by
 * veth pairs to a bridge in the host namespace, each member's outgoing traffic delayed by `tc netem`
 * (iproute2; needs root and a kernel with sch_netem). Names carry a random tag so that runs side by side
 * do not collide; `close()` removes everything and is also called when the process exits.
 */
export interface NsNetwork {
  /** the host's address on the bridge (clients connect from here) */
  hostIp: string;
  /** each member's address, in its own namespace */
  ips: string[];
  namespaces: string[];
  /** the command prefix that runs a program inside member i's namespace */
  prefix(i: number): string[];
  close(): void;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function quiet(f: () => void): void {
  try {
    f();
  } catch {
    // already gone
  }
}

/** True when this process may create namespaces and the kernel has netem (probed in a throwaway namespace). */
export function netemAvailable(): { ok: true } | { ok: false; why: string } {
  const ns = `glprobe${process.pid}`;
  try {
    ip("netns", "add", ns);
  } catch (e) {
    return { ok: false, why: `cannot create a network namespace: ${stderrOf(e)}` };
  }
  try {
    execFileSync(
      "ip",
      ["netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    return { ok: true };
  } catch (e) {
    return { ok: false, why: `tc netem refused: ${stderrOf(e)}` };
  } finally {
    quiet(() => ip("netns", "del", ns));
  }
}

function stderrOf(e: unknown): string {
  const s = (e as { stderr?: Buffer }).stderr?.toString().trim();
  return s || (e as Error).message;
}

/**
 * n namespaces on a bridge; each member's egress towards other members is delayed `oneWayMs` (so a round
 * trip between two members costs 2 × oneWayMs), and towards the host as well (a client's answer crosses
 * one delayed hop).
 */
export function createNsNetwork(n: number, oneWayMs: number): NsNetwork {
  const tag = randomInt(0x1000, 0xffff).toString(16);
  const subnet = 100 + randomInt(0, 150);
  const bridge = `glb${tag}`;
  const namespaces = Array.from({ length: n }, (_, i) => `gl${tag}-${i}`);
  const addr = (k: number) => `10.${subnet}.${Math.floor(k / 256)}.${k % 256}`;
  const hostIp = addr(1);
  const ips = namespaces.map((_, i) => addr(i + 2));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const ns of namespaces) quiet(() => ip("netns", "del", ns));
    quiet(() => ip("link", "del", bridge));
  };
  process.once("exit", close);
  try {
    ip("link", "add", bridge, "type", "bridge");
    ip("addr", "add", `${hostIp}/16`, "dev", bridge);
    ip("link", "set", bridge, "up");
    namespaces.forEach((ns, i) => {
      const veth = `glv${tag}-${i}`;
      ip("netns", "add", ns);
      ip("-n", ns, "link", "set", "lo", "up");
      ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
      ip("link", "set", veth, "master", bridge);
      ip("link", "set", veth, "up");
      ip("-n", ns, "addr", "add", `${ips[i]}/16`, "dev", "eth0");
      ip("-n", ns, "link", "set", "eth0", "up");
      if (oneWayMs > 0)
        execFileSync(
          "ip",
          [
            "netns",
            "exec",
            ns,
            "tc",
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "netem",
            "delay",
            `${oneWayMs}ms`,
          ],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
    });
  } catch (e) {
    close();
    throw new Error(`network namespaces: ${stderrOf(e)}`);
  }
  return { hostIp, ips, namespaces, prefix: (i) => ["ip", "netns", "exec", namespaces[i]], close };
}
