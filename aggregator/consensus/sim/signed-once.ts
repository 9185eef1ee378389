import { blockHash } from "../../ledger/block.js";
import type { Message } from "../messages.js";

/**
 * What a member signed for each slot and view: one proposal (pre-prepare or new-view block), one prepare
 * and one commit (sent alone or in a vote batch). An honest member that signs two different blocks under one key — a vote it forgot
 * after a power cut, say — breaks PBFT's safety argument even if no two replicas happen to decide
 * differently in the run; the simulator reports it as a violation of its own ("double-vote").
 */
export class SignedOnce {
  private readonly seen = new Map<string, string>();
  /** messages already noted without conflict, by sender: a message goes to every peer, and is re-sent */
  private noted = new WeakMap<Message, string>();

  /**
   * A member restarted empty (its disk lost, not a power cut) is bound only by what it signs from now
   * on: like a new member, it cannot know what it signed before. PBFT counts such a member among the f.
   */
  forget(member: string): void {
    for (const key of [...this.seen.keys()]) if (key.startsWith(`${member} `)) this.seen.delete(key);
    this.noted = new WeakMap();
  }

  /** Returns a description of the conflict when `from` already signed something else here. */
  note(from: string, msg: Message): string | undefined {
    if (this.noted.get(msg) === from) return undefined;
    const conflict = this.conflict(from, msg);
    if (conflict === undefined) this.noted.set(msg, from);
    return conflict;
  }

  private conflict(from: string, msg: Message): string | undefined {
    if (msg.t === "votes") {
      for (const v of msg.votes) {
        const conflict = this.check(
          from,
          `${v.kind} round ${v.round} index ${v.index} view ${v.view}`,
          v.hash,
        );
        if (conflict !== undefined) return conflict;
      }
      return undefined;
    }
    let what: string;
    let hash: string;
    switch (msg.t) {
      case "pp":
      case "nv": {
        const h = msg.block.header;
        what = `${msg.t} round ${h.round} index ${h.index} view ${h.view}`;
        hash = blockHash(h);
        break;
      }
      case "prepare":
      case "commit":
        what = `${msg.t} round ${msg.round} index ${msg.index} view ${msg.view}`;
        hash = msg.hash;
        break;
      default:
        return undefined;
    }
    return this.check(from, what, hash);
  }

  private check(from: string, what: string, hash: string): string | undefined {
    const key = `${from} ${what}`;
    const known = this.seen.get(key);
    if (known === undefined) {
      this.seen.set(key, hash);
      return undefined;
    }
    return known === hash ? undefined : `${from} signed ${what} for ${hash} after ${known}`;
  }
}
