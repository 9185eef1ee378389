import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { GuardedConnection } from "./guarded-connection.js";

/** The PEM material of a TLS listener, read from the configuration at start-up. */
export interface ListenerTls {
  cert: Buffer;
  key: Buffer;
  /** when given, a client must present a certificate this CA signed (refused in the handshake otherwise) */
  clientCa?: Buffer | undefined;
}

/** Why a TLS connection failed before it carried any MQTT: the peer's TLS alert or error code. */
export interface TlsFailure {
  remote: string;
  reason: string;
}

/**
 * The broker's TCP listener, plain or TLS. With TLS, each accepted TCP socket is wrapped in a server-side
 * TLSSocket at once and handed on before its handshake completes: the broker's admission (pending cap)
 * and connect timeout then also bound connections that never finish their handshake, and the frame
 * checks (GuardedConnection) see the decrypted bytes. TLS 1.2 is the oldest version accepted.
 */
export function createListener(
  tls: ListenerTls | undefined,
  onSocket: (socket: GuardedConnection["socket"]) => void,
  onTlsFailure: (f: TlsFailure) => void,
): Server {
  const context: SecureContext | undefined =
    tls === undefined
      ? undefined
      : createSecureContext({
          cert: tls.cert,
          key: tls.key,
          minVersion: "TLSv1.2",
          ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa }),
        });
  return createServer((raw: Socket) => {
    if (context === undefined) return onSocket(raw);
    const remote = raw.remoteAddress ?? "unknown";
    const requireCert = tls?.clientCa !== undefined;
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      requestCert: requireCert,
      rejectUnauthorized: requireCert,
    });
    let secured = false;
    socket.once("secure", () => {
      secured = true;
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      if (!secured) onTlsFailure({ remote, reason: tlsReason(e) });
    });
    onSocket(socket);
  });
}

/** A short reason for a failed handshake: OpenSSL's alert or the error code, without the stack. */
function tlsReason(e: NodeJS.ErrnoException): string {
  const m = /alert ([a-z ]+)|(wrong version number|http request|no shared cipher|unsupported protocol)/i.exec(
    e.message,
  );
  if (m !== null) return (m[1] ?? m[2]).trim().replace(/ /g, "_").toUpperCase();
  return e.code ?? e.message;
}

/** The common name of the certificate a TLS client presented, when the listener requires one. */
export function clientCertificateName(socket: unknown): string | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}
