import { connect } from "node:net";

const DEFAULT_PORTS: Record<string, number> = {
  "mqtt:": 1883,
  "tcp:": 1883,
  "mqtts:": 8883,
  "ws:": 80,
  "wss:": 443,
};

/**
 * Whether a broker accepts TCP connections: the cheap check of an agent away from home, before it
 * leaves a working broker. A broker that listens but refuses the login sends the agent on again
 * after the fail-over delay, so a false "up" costs one round trip of the policy, not a message.
 */
export function probeBroker(url: string, timeoutMs: number): Promise<boolean> {
  const u = new URL(url);
  const port = u.port === "" ? (DEFAULT_PORTS[u.protocol] ?? 1883) : Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (up: boolean) => {
      s.destroy();
      resolve(up);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}
