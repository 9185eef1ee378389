import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { LoadError } from "./errors.js";

export interface TlsFiles {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * A TLS listener's files (broker.embedded.tls), read and tried once at start-up: a key that does not
 * belong to the certificate, or a file that is not PEM, is named here rather than at the first client.
 */
export function readListenerTls(files: { cert: string; key: string; clientCa?: string | undefined }): {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
} {
  const { cert, key } = readTlsFiles({ cert: files.cert, key: files.key });
  const clientCa = files.clientCa === undefined ? undefined : readTlsFiles({ ca: files.clientCa }).ca;
  try {
    createSecureContext({ cert, key, ...(clientCa === undefined ? {} : { ca: clientCa }) });
  } catch (e) {
    throw new LoadError(
      "TLS_FILE",
      `TLS certificate ${files.cert} with key ${files.key}${files.clientCa === undefined ? "" : ` and client CA ${files.clientCa}`}: ${(e as Error).message}`,
    );
  }
  return { cert: cert!, key: key!, ...(clientCa === undefined ? {} : { clientCa }) };
}

/** Reads the PEM files named in the configuration once, at start-up, naming any that cannot be read. */
export function readTlsFiles(files: TlsFiles | undefined): TlsMaterial {
  if (files === undefined) return {};
  const out: TlsMaterial = {};
  for (const k of ["ca", "cert", "key"] as const) {
    const path = files[k];
    if (path === undefined) continue;
    try {
      out[k] = readFileSync(path);
    } catch (e) {
      throw new LoadError("TLS_FILE", `cannot read TLS ${k} ${path}: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * True for names and addresses that never leave the machine: `localhost`, 127.0.0.0/8, `::1` (and
 * 127.x written as an IPv4-mapped IPv6 address). `0.0.0.0` and `::` listen on every interface: not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Where a CA directory keeps its X.509 TLS CA (protocol/x509/tls-ca.ts writes it). */
export function tlsCaPaths(caDir: string): { dir: string; cert: string; key: string } {
  const dir = join(caDir, "tls");
  return { dir, cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
}

/** MQTT URL schemes that carry the connection unencrypted. */
const PLAIN_SCHEMES = new Set(["mqtt:", "tcp:", "ws:"]);

/**
 * The host of a broker URL that would cross the network unencrypted (a plain scheme to a host other
 * than loopback), or undefined when the URL is TLS or stays on this machine. Transport is untrusted
 * (docs/SECURITY.md): between machines, MQTT runs over TLS.
 */
export function plainRemoteHost(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!PLAIN_SCHEMES.has(u.protocol)) return undefined;
  return isLoopbackHost(u.hostname) ? undefined : u.hostname;
}

/** Node's codes for a server certificate that does not verify (unknown CA, wrong name, expired...). */
export function isTlsRefusal(e: Error & { code?: unknown }): boolean {
  const code = typeof e.code === "string" ? e.code : "";
  return code.startsWith("ERR_TLS_") || /CERT|UNABLE_TO_VERIFY|SELF_SIGNED|ERR_SSL_/.test(code);
}
