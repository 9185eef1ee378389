import { describeError } from "../../protocol/errors.js";
import { type RevocationList, type TrustStore, verifyRevocationList } from "../../protocol/identity.js";
import type { Logger } from "../../protocol/log.js";

/**
 * The CA's revocation list, wherever it comes from (its retained topic on this broker, a peer's
 * broker, the file named by `identity.revocations`): a CA-signed list newer than the installed one is
 * installed, the live connections of every identity it revokes are cut at once, and the list is
 * published again, retained, on this aggregator's own broker, where its agents and its peers'
 * subscriptions pick it up; so a list handed to any one aggregator reaches every one.
 */
export class RevocationFeed {
  constructor(
    private readonly o: {
      trust: TrustStore;
      /** closes the connections of the identities this predicate matches; returns how many */
      cut: (revoked: (id: string) => boolean) => number;
      /** publishes the list, retained, on the own broker */
      republish: (payload: string) => void;
      count: (code: string) => void;
      log: Logger;
    },
  ) {}

  /** Offers a list (parsed or raw bytes); true if it was newer and is now installed. */
  offer(list: unknown, source: string): boolean {
    let parsed = list;
    if (Buffer.isBuffer(list)) {
      try {
        parsed = JSON.parse(list.toString("utf8"));
      } catch {
        parsed = undefined;
      }
    }
    let installed: boolean;
    try {
      installed = this.o.trust.setRevocations(parsed as RevocationList);
    } catch (e) {
      this.o.count("BAD_REVOCATION_LIST");
      this.o.log.warn("revocation list refused", { source, error: describeError(e) });
      return false;
    }
    if (!installed) return false;
    const l = parsed as RevocationList;
    const cut = this.o.cut((id) => this.o.trust.isRevoked(id));
    this.o.log.info("revocation list installed", {
      source,
      version: l.version,
      revoked: l.revoked.length,
      connectionsCut: cut,
    });
    this.o.republish(JSON.stringify(l));
    return true;
  }

  /**
   * Why a publish on the revocation topic must not be kept (retained) on this broker: anything but a
   * CA-signed list at least as new as the installed one. Undefined: it may pass.
   */
  refusal(payload: Buffer): string | undefined {
    try {
      const list = JSON.parse(payload.toString("utf8")) as RevocationList;
      verifyRevocationList(list, this.o.trust.ca);
      if (list.version < this.o.trust.revocationVersion())
        return `revocation list version ${list.version} is older than the installed ${this.o.trust.revocationVersion()}`;
      return undefined;
    } catch (e) {
      return `not a CA-signed revocation list: ${describeError(e)}`;
    }
  }
}
