import { Aedes, type AuthenticateError, type Client } from "#aedes";
import type { Logger } from "../../protocol/log.js";
import { BrokerError } from "./errors.js";
import { BrokerGate } from "./gate.js";
import { type BrokerLimits, DEFAULT_BROKER_LIMITS } from "./limits.js";
import { type BrokerListener, clientCertificateName, createListener, type ListenerTls } from "./listener.js";
import type { BrokerIdentity, LoginVerifier } from "./login.js";

export interface EmbeddedBroker {
  port: number;
  /** where clients reach it: mqtts://host:port with TLS, mqtt://host:port without */
  url: string;
  /**
   * publishes from inside the broker's process, with no client connection (QoS 1); `done` is called
   * once the message has been handed to every subscriber's connection
   */
  publish(topic: string, payload: Buffer | string, retain?: boolean, done?: () => void): void;
  /** refusals by code: login codes, "PUBLISH_DENIED", "PACKET_TOO_LARGE", "THROTTLED", ... */
  refusals(): Record<string, number>;
  /** the identities of the clients connected now (an agent may hold two: its link and its trading client) */
  connections(): BrokerIdentity[];
  /** closes the connections of every logged-in identity that matches (a revoked one); returns how many */
  disconnect(match: (who: BrokerIdentity) => boolean, reason: string): number;
  close(): Promise<void>;
}

/**
 * An Aedes broker on host:port whose hooks (aggregator/broker/gate.ts) bound every client before and
 * after its login, authenticate it by its login token and keep each identity to its own topics.
 * In-memory persistence: the agents' outboxes, not the broker, are what make delivery survive a restart.
 */
export async function startEmbeddedBroker(opts: {
  host: string;
  port: number;
  login: LoginVerifier;
  log: Logger;
  limits?: BrokerLimits;
  /** MQTT over TLS; without it the listener must be on loopback (config/aggregator.ts checks) */
  tls?: ListenerTls | undefined;
  now?: () => number;
  /** a reason to refuse a publish for its payload (a revocation list that is not the CA's), if any */
  checkPublish?: (topic: string, payload: Buffer) => string | undefined;
  /** called once per refusal, for the aggregator's persistent counters */
  onRefusal?: (code: string) => void;
  /**
   * In-process subscriptions, made before the port opens so that no message is missed; they save the
   * aggregator a loopback MQTT connection (an encode, a decode and an acknowledgement per message).
   */
  subscriptions?: { filter: string; onMessage: (topic: string, payload: Buffer) => void }[];
}): Promise<EmbeddedBroker> {
  const { log } = opts;
  const limits = opts.limits ?? DEFAULT_BROKER_LIMITS;
  const gate = new BrokerGate({
    limits,
    login: opts.login,
    log,
    now: opts.now ?? Date.now,
    onRefusal: opts.onRefusal,
    checkPublish: opts.checkPublish,
  });
  let broker: Aedes;
  const clientsById = (): Record<string, Client | undefined> =>
    (broker as unknown as { clients: Record<string, Client | undefined> }).clients;
  broker = await Aedes.createBroker({
    id: "gridlet-embedded",
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    // Client ids are `<identity>` or `<identity>/<suffix>` (docs/SECURITY.md), longer than MQTT 3.1's 23.
    maxClientsIdLength: 256,
    authenticate: (client, username, password, done) => {
      if (opts.tls?.clientCa !== undefined && !certificateMatches(client, username)) {
        const remote = (client.conn as { remoteAddress?: string }).remoteAddress ?? "unknown";
        gate.refuse("CERT_NOT_IDENTITY", remote, "login refused", {
          remote,
          username,
          certificate: clientCertificateName((client.conn as { socket?: unknown }).socket),
        });
        return done(notAuthorized("the TLS client certificate is not the login identity's"), false);
      }
      gate.authenticate(client, username, password, clientsById()[client.id], done);
    },
    authorizePublish: (client, packet, done) => gate.authorizePublish(client, packet, done),
    authorizeSubscribe: (client, sub, done) => gate.authorizeSubscribe(client, sub, done),
  });
  broker.on("connectionError", (client, err) => {
    if (err.message === "connect did not arrive in time") {
      const remote = (client.conn as { remoteAddress?: string }).remoteAddress ?? "unknown";
      gate.refuse("CONNECT_TIMEOUT", remote, "connection closed: no CONNECT in time", {
        remote,
        timeoutMs: limits.connectTimeoutMs,
      });
    } else log.debug("connection error", { error: err.message });
  });
  broker.on("clientError", (client, err) =>
    log.debug("client error", { client: client.id, error: err.message }),
  );
  // Aedes' emitter (mqemitter) queues messages beyond its concurrency while subscribers are slow (a
  // peer that stopped reading), and starts the next queued one from the completion of the previous:
  // when every completion is synchronous (no subscriber left, or only in-process ones) a long queue
  // drains by recursion and overflows the stack, as it did when 16 aggregators stopped together.
  // One subscriber on everything that completes on the next turn keeps that drain iterative.
  await new Promise<void>((resolve) =>
    broker.subscribe(
      "#",
      (_p, done) => setImmediate(done),
      () => resolve(),
    ),
  );
  for (const sub of opts.subscriptions ?? []) {
    await new Promise<void>((resolve) =>
      broker.subscribe(
        sub.filter,
        (packet, done) => {
          sub.onMessage(
            packet.topic,
            Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
          );
          done();
        },
        () => resolve(),
      ),
    );
  }
  const server: BrokerListener = createListener(
    opts.tls,
    { maxHandshakes: limits.maxPendingConnections, handshakeTimeoutMs: limits.connectTimeoutMs },
    (socket) => {
      const conn = gate.accept(socket);
      if (conn !== undefined) broker.handle(conn);
    },
    ({ code, remote, reason }) =>
      gate.refuse(
        code,
        remote,
        "TLS connection refused",
        { remote, reason },
        code === "TLS_HANDSHAKE" ? "info" : "warn",
      ),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (e) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE")
      throw new BrokerError(
        "ADDRESS_IN_USE",
        `broker.embedded: ${opts.host}:${opts.port} is already in use (another aggregator with this configuration?)`,
      );
    throw new BrokerError(
      "LISTEN_FAILED",
      `broker.embedded: cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`,
    );
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : opts.port;
  const url = `${opts.tls === undefined ? "mqtt" : "mqtts"}://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
  log.info("embedded broker listening", { host: opts.host, port, tls: opts.tls !== undefined });
  if (opts.tls === undefined)
    log.warn("embedded broker without TLS: loopback clients only (broker.embedded.tls for others)", {
      host: opts.host,
      port,
    });
  return {
    port,
    url,
    publish: (topic, payload, retain = false, done) =>
      broker.publish(
        { cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain, dup: false },
        (err) => {
          if (err) log.warn("in-process publish failed", { topic, error: err.message });
          done?.();
        },
      ),
    refusals: () => gate.refusals(),
    connections: () => gate.connected(),
    disconnect: (match, reason) => {
      const victims = gate.clientsWhere(match);
      for (const c of victims) {
        gate.refuse("REVOKED_CUT", c.id, "connection cut", { client: c.id, reason });
        c.close();
      }
      return victims.length;
    },
    close: () => closeBroker(broker, server),
  };
}

/** With client certificates required, the one a client presented names the identity it logs in as. */
function certificateMatches(client: Client, username: string | undefined): boolean {
  const cn = clientCertificateName((client.conn as { socket?: unknown }).socket);
  return cn !== undefined && cn === username;
}

function notAuthorized(message: string): AuthenticateError {
  const err = new Error(message) as AuthenticateError;
  err.returnCode = 5; // CONNACK "not authorized" [MQTT-3.2.2.3]
  return err;
}

/** Stops accepting, closes every client (each publishing its will), then the broker. */
async function closeBroker(broker: Aedes, server: BrokerListener): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.dropHandshakes();
    // Open client sockets keep server.close waiting until Aedes has closed them below.
    setImmediate(resolve);
  });
  await new Promise<void>((resolve) => {
    broker.close(() => resolve());
    setTimeout(resolve, 2000).unref();
  });
}
