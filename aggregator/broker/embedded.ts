import { createServer, type Server } from "node:net";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import { describeError, isGridletError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/log.js";
import { mayPublish, maySubscribe } from "./acl.js";
import type { BrokerIdentity, LoginVerifier } from "./login.js";

export interface EmbeddedBroker {
  port: number;
  /** publishes from inside the broker's process, with no client connection (QoS 1) */
  publish(topic: string, payload: Buffer | string, retain?: boolean): void;
  /** refusals by reason: login codes, "PUBLISH_DENIED", "SUBSCRIBE_DENIED" */
  refusals(): Record<string, number>;
  /** the identities of the clients connected now (an agent may hold two: its link and its trading client) */
  connections(): BrokerIdentity[];
  close(): Promise<void>;
}

const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * An Aedes broker on host:port whose hooks authenticate every client by its login token and keep each
 * agent to its own topics. In-memory persistence: the agents' outboxes, not the broker, are what make
 * delivery survive a restart.
 */
export async function startEmbeddedBroker(opts: {
  host: string;
  port: number;
  login: LoginVerifier;
  log: Logger;
  /** called once per refusal, for the aggregator's persistent counters */
  onRefusal?: (code: string) => void;
  /**
   * In-process subscriptions, made before the port opens so that no message is missed; they save the
   * aggregator a loopback MQTT connection (an encode, a decode and an acknowledgement per message).
   */
  subscriptions?: { filter: string; onMessage: (topic: string, payload: Buffer) => void }[];
}): Promise<EmbeddedBroker> {
  const { log } = opts;
  const identities = new WeakMap<Client, BrokerIdentity>();
  const refusals: Record<string, number> = {};
  const refuse = (code: string, msg: string, fields: Record<string, unknown>) => {
    refusals[code] = (refusals[code] ?? 0) + 1;
    opts.onRefusal?.(code);
    log.warn(msg, { code, ...fields });
  };
  const broker = await Aedes.createBroker({
    id: "gridlet-embedded",
    authenticate: (client, username, password, done) => {
      try {
        identities.set(client, opts.login.verify(username, password, client.id));
        done(null, true);
      } catch (e) {
        refuse(isGridletError(e) ? e.code : "LOGIN_FAILED", "login refused", {
          client: client.id,
          username,
          reason: describeError(e),
        });
        const err = new Error("login refused") as AuthenticateError;
        err.returnCode = BAD_USERNAME_OR_PASSWORD;
        done(err, false);
      }
    },
    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null); // the broker's own messages
      const who = identities.get(client);
      if (who !== undefined && mayPublish(who, packet.topic)) return done(null);
      refuse("PUBLISH_DENIED", "publish refused", { client: client.id, id: who?.id, topic: packet.topic });
      done(new Error(`publish to ${packet.topic} not allowed`));
    },
    authorizeSubscribe: (client, sub, done) => {
      const who = identities.get(client);
      if (who !== undefined && maySubscribe(who, sub.topic)) return done(null, sub);
      refuse("SUBSCRIBE_DENIED", "subscribe refused", { client: client.id, id: who?.id, topic: sub.topic });
      // A null subscription makes Aedes answer 0x80 (failure) for this filter only [MQTT-3.9.3-2].
      done(null, null);
    },
  });
  const connected = new Set<Client>();
  broker.on("clientReady", (client) => connected.add(client));
  broker.on("clientDisconnect", (client) => connected.delete(client));
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
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : opts.port;
  log.info("embedded broker listening", { host: opts.host, port });
  return {
    port,
    publish: (topic, payload, retain = false) =>
      broker.publish(
        { cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain, dup: false },
        (err) => {
          if (err) log.warn("in-process publish failed", { topic, error: err.message });
        },
      ),
    refusals: () => ({ ...refusals }),
    connections: () =>
      [...connected].flatMap((c) => {
        const who = identities.get(c);
        return who === undefined ? [] : [who];
      }),
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
        // Open client sockets keep server.close waiting; Aedes closed them, but do not hang on it.
        setTimeout(resolve, 2000).unref();
      }),
  };
}
