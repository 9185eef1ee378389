import type { AgentConfig } from "../../config/agent.js";
import { encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import { MSG_METER_REPLACE } from "../../protocol/evidence.js";
import { loadIdentity } from "../../protocol/load-identity.js";
import { AgentStore } from "../store/agent-store.js";
import { AgentRuntimeError } from "./errors.js";

/**
 * `gridlet agent replace-meter`: the operator declares that a meter was replaced (its registers start
 * again). The agent's store gets a signed `meter.replace` in its outbox (sent by the running agent with
 * its next tick) and remembers the replacement, so that its summaries take the new meter's readings
 * only from `ts` on, as its aggregator does (docs/PROTOCOL.md, "Metered evidence").
 */
export function replaceMeter(
  config: AgentConfig,
  meter: string,
  ts: number,
  reason: string,
  now: () => number = Date.now,
): { seq: number } {
  if (!config.meters.some((m) => m.id === meter))
    throw new AgentRuntimeError(
      "METER_CONFIG",
      `--meter ${meter}: not a meter of ${config.id} (${config.meters.map((m) => m.id).join(", ")})`,
    );
  const identity = loadIdentity(config.identity, config.id, now());
  const store = new AgentStore(config.store.path, config.id, () => now() * 1000);
  try {
    const seq = store.replaceMeter(meter, ts, reason, (body, s) => ({
      type: MSG_METER_REPLACE,
      payload: encodeEnvelope(
        signEnvelope(
          { type: MSG_METER_REPLACE, from: config.id, seq: s, ts: now(), body },
          identity.key.seed,
        ),
      ).toString("utf8"),
    }));
    return { seq };
  } finally {
    store.close();
  }
}
