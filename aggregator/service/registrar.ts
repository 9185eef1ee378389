import type { TrustStore } from "../../protocol/identity.js";
import type { Logger } from "../../protocol/log.js";
import type { AggregatorNode } from "../node/node.js";

/**
 * Identity registration: an agent of this home must be in the ledger's registry before its first
 * ledger envelope can apply. Its certificate (from a login or the certificate directory) is submitted
 * as a registration once, and again after `resubmitMs` while it has not committed.
 */
export class IdentityRegistrar {
  /** registrations sent: agent id → when */
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly o: {
      self: string;
      node: AggregatorNode;
      trust: TrustStore;
      now: () => number;
      resubmitMs: number;
      log: Logger;
    },
  ) {}

  /** True when the agent is registered; otherwise submits its registration if it is ours and due. */
  ensure(agent: string): boolean {
    const { node, trust, self } = this.o;
    if (node.machine.registry.agent(agent) !== undefined) return true;
    const cert = trust.get(agent);
    if (cert?.role !== "agent" || cert.home !== self) return false;
    const now = this.o.now();
    const last = this.sent.get(agent);
    if (last === undefined || now - last >= this.o.resubmitMs) {
      this.sent.set(agent, now);
      node.registerIdentity(cert);
      this.o.log.info("registering agent identity", { agent });
    }
    return false;
  }

  /** Registers every valid, unrevoked agent certificate of this home that the ledger does not have yet. */
  sweep(now: number): void {
    for (const cert of this.o.trust.all())
      if (cert.role === "agent" && cert.home === this.o.self && cert.notBefore <= now && now <= cert.notAfter)
        if (!this.o.trust.isRevoked(cert.id)) this.ensure(cert.id);
  }
}
