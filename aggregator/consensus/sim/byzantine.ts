import { makeBlock } from "../../ledger/block.js";
import type { Signer } from "../../ledger/signing.js";
import { batchRoot, batchSigningBytes, voteLeaf } from "../../ledger/vote-batch.js";
import { checkpointBytes, type Message } from "../messages.js";
import type { Output } from "../types.js";
import type { Rng } from "./rng.js";

export type ByzantineBehaviour = "equivocate" | "forge" | "withhold";

/**
 * Rewrites what a faulty replica sends. It runs an honest core underneath (so it stays in step and its
 * attacks are well-timed) and bends the outgoing messages:
 * - equivocate: its own proposals go out as two different signed blocks, one to each half of the peers;
 * - forge: adds votes, proposals and decisions claimed in other members' names or with made-up
 *   certificates, and checkpoints with a wrong state hash signed by itself;
 * - withhold: sends its proposals to a single peer and drops most of its votes.
 */
export function corrupt(
  behaviour: ByzantineBehaviour,
  outputs: Output[],
  self: Signer,
  members: readonly string[],
  rng: Rng,
): Output[] {
  const peers = members.filter((m) => m !== self.id);
  const out: Output[] = [];
  for (const o of outputs) {
    if (o.type !== "send" || o.to !== "*") {
      out.push(o);
      continue;
    }
    const m = o.msg;
    switch (behaviour) {
      case "equivocate":
        if (m.t === "pp" && m.re !== true) {
          const h = m.block.header;
          const twin = makeBlock(
            h,
            h.time + 1,
            [...m.block.txs, { id: `evil-${h.round}-${h.index}`, key: "evil", add: 1 }],
            self,
          );
          peers.forEach((p, i) => {
            const msg: Message = i % 2 === 0 ? m : { t: "pp", from: self.id, block: twin };
            out.push({ type: "send", to: p, msg });
          });
        } else {
          out.push(o);
        }
        break;
      case "forge":
        // Forgeries first, so that a checkpoint lie arrives before the honest one.
        out.push(...forgeries(m, self, members, rng));
        out.push(o);
        break;
      case "withhold":
        if (m.t === "pp" || m.t === "nv") out.push({ type: "send", to: rng.pick(peers), msg: m });
        else if (rng.chance(0.3)) out.push(o);
        break;
    }
  }
  return out;
}

function forgeries(m: Message, self: Signer, members: readonly string[], rng: Rng): Output[] {
  const victim = rng.pick(members.filter((x) => x !== self.id));
  const junk = "ab".repeat(32);
  const send = (msg: Message): Output => ({ type: "send", to: "*", msg });
  switch (m.t) {
    case "prepare":
    case "commit": {
      const fakeHash = rng.next().toString(16).slice(2).padEnd(64, "0").slice(0, 64);
      return [
        // Someone else's vote with our signature on it, and a vote for a block that does not exist.
        send({ ...m, from: victim }),
        send({ ...m, from: victim, hash: fakeHash, sig: junk }),
        send({ ...m, t: m.t === "prepare" ? "commit" : "prepare", hash: fakeHash }),
      ];
    }
    case "votes": {
      const fakeHash = rng.next().toString(16).slice(2).padEnd(64, "0").slice(0, 64);
      const flipped = m.votes.map((v) => ({
        ...v,
        kind: v.kind === "prepare" ? ("commit" as const) : ("prepare" as const),
        hash: fakeHash,
      }));
      const leaves = flipped.map((v) => voteLeaf(v.kind, v.round, v.index, v.view, v.hash));
      return [
        // Someone else's batch with our signature on it, a batch with a junk signature, and a batch of
        // our own (validly signed) voting for a block that does not exist, in the other phase.
        send({ ...m, from: victim }),
        send({ ...m, from: victim, votes: flipped, sig: junk }),
        send({ ...m, votes: flipped, sig: self.sign(batchSigningBytes(batchRoot(leaves))) }),
      ];
    }
    case "pp": {
      const h = m.block.header;
      const stolen = makeBlock(
        { ...h, index: (h.index + 1) % members.length },
        h.time,
        [{ id: "stolen", key: "x", add: 9 }],
        self,
      );
      const fakeDecision = makeBlock(h, h.time, [{ id: "forged-decision", key: "x", add: 1000 }], self);
      return [
        send({ t: "pp", from: members[(h.index + 1) % members.length], block: stolen }),
        send({
          t: "decided",
          from: self.id,
          seq: h.round * members.length + h.index,
          block: fakeDecision,
          qc: { view: h.view, votes: members.map((from) => ({ from, sig: self.sign(new Uint8Array([1])) })) },
        }),
      ];
    }
    case "vc":
      // Someone else's view change with our signature on it, and one to a view our signature does not cover.
      return [send({ ...m, from: victim }), send({ ...m, view: m.view + 1 })];
    case "vcs":
      // The same for a batch: a victim's, and ours moved on a view in every slot.
      return [
        send({ ...m, from: victim }),
        send({ ...m, vcs: m.vcs.map((v) => ({ ...v, view: v.view + 1 })) }),
      ];
    case "ckpt":
      return [
        send({
          ...m,
          stateHash: "0".repeat(64),
          sig: self.sign(checkpointBytes(m.round, "0".repeat(64), m.link)),
        }),
      ];
    default:
      return [];
  }
}
