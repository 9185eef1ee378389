import type { Certificate } from "../../protocol/identity.js";
import type { LoadedIdentity } from "../../protocol/load-identity.js";
import type { Logger } from "../../protocol/log.js";
import type { TlsMaterial } from "../../protocol/tls.js";
import type { AgentStore } from "../store/agent-store.js";
import { AnnounceLink } from "./announce-link.js";
import type { TradingConfig } from "./config.js";
import { Participant } from "./participant.js";

/**
 * Builds the trading behaviour for the agent's composition root (agent/runtime/start.ts): the
 * participant over the agent's store, and the announcement subscription on the same broker.
 */
export function tradingHooks(o: {
  id: string;
  config: TradingConfig;
  identity: LoadedIdentity;
  aggregator: Certificate;
  /** the fail-over list (agent/link/failover.ts), home included */
  aggregators?: Certificate[] | undefined;
  store: AgentStore;
  mqtt: { url: string; clientId: string; tls?: TlsMaterial | undefined };
  password: (clientId: string, audience: string) => string;
  log: Logger;
  now: () => number;
}) {
  return (kick: () => void) => {
    const log = o.log.child("trading");
    const participant = new Participant({
      id: o.id,
      identity: o.identity,
      aggregator: o.aggregator,
      ...(o.aggregators === undefined ? {} : { aggregators: o.aggregators }),
      store: o.store,
      config: o.config,
      log,
      now: o.now,
      kick,
    });
    const announce = new AnnounceLink({
      url: o.mqtt.url,
      clientId: o.mqtt.clientId,
      agentId: o.id,
      aggregator: o.aggregator,
      aggregators: o.aggregators,
      password: (audience) => o.password(`${o.mqtt.clientId}/announce`, audience),
      tls: o.mqtt.tls,
      onAnnounce: (env) => participant.onAnnounce(env),
      log,
      now: o.now,
    });
    announce.start();
    log.info("trading on", { wallet: participant.wallet, intervalMs: o.config.market.intervalMs });
    return {
      participant,
      step: () => participant.step(),
      onDown: (env: Parameters<Participant["onDown"]>[0]) => participant.onDown(env),
      onSwitch: (to: { id: string; url: string }) => {
        participant.onSwitch(to.id);
        announce.follow(to.url, to.id);
      },
      onResequenced: (moved: ReadonlyMap<number, number>) => participant.state.resequenced(moved),
      stop: () => announce.stop(),
    };
  };
}
