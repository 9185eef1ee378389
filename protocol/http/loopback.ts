import { BlockList, isIP } from "node:net";

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/**
 * Whether a listen address only accepts connections from this machine: `localhost`, 127.0.0.0/8, ::1
 * and ::ffff:127.x (RFC 4291 §2.5.3, RFC 1122 §3.2.1.3). `0.0.0.0`, `::`, names and LAN addresses are not.
 */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const family = isIP(h);
  if (family === 4) return loopback.check(h, "ipv4");
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h);
    return mapped !== null ? loopback.check(mapped[1], "ipv4") : loopback.check(h, "ipv6");
  }
  return false;
}
