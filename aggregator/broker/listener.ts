import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { GuardedConnection } from "./guarded-connection.js";

/** The PEM material of a TLS listener, read from the configuration at start-up. */
export interface ListenerTls {
  cert: Buffer;
  key: Buffer;
  /** when given, a client must present a certificate this CA signed (refused in the handshake otherwise) */
  clientCa?: Buffer | undefined;
}

/** What bounds connections still in their TLS handshake (the broker's gate bounds them after it). */
export interface HandshakeLimits {
  /** handshakes in progress at once; more connections are closed as they arrive */
  maxHandshakes: number;
  /** a handshake not finished this long after the connection opened is abandoned */
  handshakeTimeoutMs: number;
}

/** A connection refused before it carried any MQTT. */
export interface TlsRefusal {
  code: "TLS_HANDSHAKE" | "TOO_MANY_HANDSHAKES";
  remote: string;
  /** the peer's TLS alert or the error code, e.g. UNKNOWN_CA, WRONG_VERSION_NUMBER, TIMEOUT */
  reason: string;
}

/** The listening server; `dropHandshakes` closes the connections still in their TLS handshake (at stop). */
export type BrokerListener = Server & { dropHandshakes(): void };

/**
 * The broker's TCP listener, plain or TLS. With TLS, node's TLS server does the handshake (and checks a
 * client certificate against `clientCa`, when given) on the sockets this listener accepts; only sockets
 * whose handshake succeeded reach `onSocket`, so the frame checks (GuardedConnection) see decrypted
 * bytes. Handshakes in progress are capped and timed out here. TLS 1.2 is the oldest version accepted.
 */
export function createListener(
  tls: ListenerTls | undefined,
  limits: HandshakeLimits,
  onSocket: (socket: GuardedConnection["socket"]) => void,
  onRefusal: (r: TlsRefusal) => void,
): BrokerListener {
  if (tls === undefined) return Object.assign(createServer(onSocket), { dropHandshakes: () => undefined });
  const requireCert = tls.clientCa !== undefined;
  const secure = createTlsServer({
    cert: tls.cert,
    key: tls.key,
    minVersion: "TLSv1.2",
    handshakeTimeout: limits.handshakeTimeoutMs,
    requestCert: requireCert,
    rejectUnauthorized: requireCert,
    ...(requireCert ? { ca: tls.clientCa } : {}),
  });
  // a TCP connection is known by its two ends while it is open
  const handshaking = new Map<string, Socket>();
  const keyOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) =>
    `${s.remoteAddress}|${s.remotePort}`;
  secure.on("secureConnection", (socket: TLSSocket) => {
    handshaking.delete(keyOf(socket));
    onSocket(socket);
  });
  // with a listener here, closing the socket is the listener's job (node's TLS server docs)
  secure.on("tlsClientError", (e: NodeJS.ErrnoException, socket: TLSSocket) => {
    const remote = socket.remoteAddress ?? "unknown";
    handshaking.delete(keyOf(socket));
    socket.destroy();
    onRefusal({ code: "TLS_HANDSHAKE", remote, reason: tlsReason(e) });
  });
  const server = createServer((raw: Socket) => {
    const remote = raw.remoteAddress ?? "unknown";
    if (handshaking.size >= limits.maxHandshakes) {
      onRefusal({ code: "TOO_MANY_HANDSHAKES", remote, reason: `${handshaking.size} in progress` });
      raw.destroy();
      return;
    }
    const key = keyOf(raw);
    handshaking.set(key, raw);
    raw.once("close", () => handshaking.delete(key));
    // node's documented way to hand an accepted socket to a server that does not listen itself
    secure.emit("connection", raw);
  });
  return Object.assign(server, {
    dropHandshakes: () => {
      for (const raw of handshaking.values()) raw.destroy();
      handshaking.clear();
    },
  });
}

/** A short reason for a failed handshake: OpenSSL's alert or the error code, without the stack. */
function tlsReason(e: NodeJS.ErrnoException): string {
  if (/timeout/i.test(e.message)) return "TIMEOUT";
  const m = /alert ([a-z ]+)|(wrong version number|http request|no shared cipher|unsupported protocol)/i.exec(
    e.message,
  );
  if (m !== null) return (m[1] ?? m[2]).trim().replace(/ /g, "_").toUpperCase();
  return e.code ?? e.message;
}

/** The common name of the certificate a TLS client presented, when the listener required one. */
export function clientCertificateName(socket: unknown): string | undefined {
  const s = socket as Partial<TLSSocket> | undefined;
  if (typeof s?.getPeerCertificate !== "function") return undefined;
  const cn = s.getPeerCertificate()?.subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}
