import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../bench/harness/tmp.js";

export const MOSQUITTO = "/usr/sbin/mosquitto";

export interface Mosquitto {
  port: number;
  /** mqtts:// with `tls`, mqtt:// without */
  url: string;
  stop(): Promise<void>;
}

/** Mosquitto's TLS listener: server certificate and key, and the CA its clients' certificates come from. */
export interface MosquittoTls {
  ca: string;
  cert: string;
  key: string;
  /** require a client certificate (CN = the MQTT username) instead of anonymous access */
  requireCertificate?: boolean;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * A real Mosquitto on 127.0.0.1:port with anonymous access (the aggregator still verifies everything),
 * plain or, with `tls`, over TLS. Mosquitto started as root drops to its own user, which cannot reach
 * a test's private directory: its TLS files are copied to a readable directory of their own first.
 */
export async function startMosquitto(
  dir: string,
  port: number,
  extraConfig = "",
  tls?: MosquittoTls,
): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is not installed`);
  const conf = join(dir, `mosquitto-${port}.conf`);
  let tlsDir: string | undefined;
  let listener = `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  if (tls !== undefined) {
    tlsDir = mkdtempSync(join(tmpdir(), "gridlet-mosquitto-tls-"));
    chmodSync(tlsDir, 0o755);
    for (const f of ["ca", "cert", "key"] as const) {
      copyFileSync(tls[f], join(tlsDir, f));
      chmodSync(join(tlsDir, f), 0o644);
    }
    listener += [
      `cafile ${join(tlsDir, "ca")}`,
      `certfile ${join(tlsDir, "cert")}`,
      `keyfile ${join(tlsDir, "key")}`,
      ...(tls.requireCertificate === true
        ? ["require_certificate true", "use_identity_as_username true"]
        : []),
      "",
    ].join("\n");
  }
  writeFileSync(conf, `${listener}persistence false\n${extraConfig}`);
  const child: ChildProcess = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const cleanup = () => {
    if (tlsDir !== undefined) rmSync(tlsDir, { recursive: true, force: true });
  };
  try {
    await waitFor(`mosquitto on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
      return portOpen(port);
    });
  } catch (e) {
    if (child.exitCode === null) child.kill("SIGTERM");
    cleanup();
    throw e;
  }
  return {
    port,
    url: `${tls === undefined ? "mqtt" : "mqtts"}://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      cleanup();
    },
  };
}
