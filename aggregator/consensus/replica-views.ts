import { type Block, checkBlock, makeBlock } from "../ledger/block.js";
import { batchLevels, batchProof, levelsRoot } from "../ledger/vote-batch.js";
import {
  type NewView,
  newViewBytes,
  type ViewChange,
  type ViewChangeBatch,
  viewChangeBatchBytes,
  viewChangeBytes,
  viewChangeLeaf,
} from "./messages.js";
import { ReplicaCore } from "./replica-core.js";
import type { Slot } from "./slot.js";
import { checkNewView, checkViewChange } from "./viewchange.js";

/**
 * The view change of a slot (PBFT §4.4, checks in viewchange.ts): moving to the next view, PBFT's join
 * rule, the new leader's choice of block and everyone's check of it. ReplicaCore holds the slot state and
 * the normal case; ReplicaRouting (replica-routing.ts) routes messages here.
 */
export abstract class ReplicaViews extends ReplicaCore {
  /**
   * Our view changes not signed yet: in a burst they go out together when the "vcs" timer fires
   * (voteBatchMs after the first), signed once as a batch, so that the slots of a stalled window cost
   * each peer one signature check rather than one per slot. Until then each sits in its slot with an
   * empty `sig`.
   */
  protected vcOut: ViewChange[] = [];
  protected vcTimer = false;
  private lastViewChangeAt = Number.NEGATIVE_INFINITY;
  /** view changes split out of a batch whose signature was checked (onViewChangeBatch) */
  protected readonly signatureChecked = new WeakSet<ViewChange>();

  protected startViewChange(s: Slot, view: number, orphan = false): void {
    if (view <= s.view && (s.inViewChange || view < s.view)) return;
    s.view = view;
    s.inViewChange = true;
    s.ticks = 0;
    s.resends = 0;
    s.spared = 0;
    this.emit({
      type: "vote",
      record: { seq: s.round * this.n + s.index, kind: "vc", view, hash: null, prepared: s.prepared },
      ...(orphan ? { orphan: true as const } : {}),
    });
    const vc: ViewChange = {
      t: "vc",
      from: this.config.self,
      round: s.round,
      index: s.index,
      view,
      prepared: s.prepared,
      sig: "",
    };
    this.vcOut.push(vc);
    // The first view change after a quiet tick goes out at once, as a lone failure needs; those that
    // follow it within a tick (a stalled window, a cascade of joins) wait voteBatchMs to go together.
    // A batch holds at most a window's slots (what peers accept), however many views they went through.
    const burst = this.now - this.lastViewChangeAt < this.pace.tickMs();
    this.lastViewChangeAt = this.now;
    if (!burst || this.vcOut.length >= this.config.window * this.n) this.flushViewChanges();
    else if (!this.vcTimer) {
      this.vcTimer = true;
      this.emit({ type: "timer", key: "vcs", delayMs: this.config.voteBatchMs });
    }
    s.mine.set("vc", vc);
    this.storeViewChange(s, vc);
    this.armTimer(s);
    this.maybeNewView(s, view);
  }

  /**
   * Signs and sends the view changes waiting in vcOut: one alone as before (its own signature), several
   * as a batch (one signature over the Merkle root of their leaves; each keeps its proof, so that it can
   * be re-sent alone or shown in a new-view message).
   */
  protected flushViewChanges(): void {
    const list = this.vcOut;
    if (list.length === 0) return;
    this.vcOut = [];
    if (list.length === 1) {
      list[0].sig = this.deps.signer.sign(viewChangeBytes(list[0]));
      this.broadcast(list[0]);
      return;
    }
    const levels = batchLevels(list.map(viewChangeLeaf));
    const root = levelsRoot(levels);
    const sig = this.deps.signer.sign(viewChangeBatchBytes(root));
    for (const [at, vc] of list.entries()) {
      vc.sig = sig;
      vc.batch = batchProof(levels, at);
    }
    const batch: ViewChangeBatch = {
      t: "vcs",
      from: this.config.self,
      vcs: list.map(({ round, index, view, prepared }) => ({ round, index, view, prepared })),
      sig,
    };
    this.broadcast(batch);
  }

  protected storeViewChange(s: Slot, vc: ViewChange): void {
    let m = s.viewChanges.get(vc.view);
    if (m === undefined) {
      m = new Map();
      s.viewChanges.set(vc.view, m);
    }
    m.set(vc.from, vc);
  }

  protected onViewChange(s: Slot, vc: ViewChange): void {
    if (
      vc.view < s.view &&
      vc.from !== this.config.self &&
      this.mayHelp(vc.from, `vc:${s.round}:${s.index}`)
    ) {
      // The sender is behind us: hand it our own view change for its view (its leader may be missing
      // exactly that one; we re-send only what we signed before) and our latest, so it can join us.
      // (one still waiting for its batch's signature goes out with the batch)
      const own = s.viewChanges.get(vc.view)?.get(this.config.self);
      if (own !== undefined && own.sig !== "") this.emit({ type: "send", to: vc.from, msg: own });
      const latest = s.mine.get("vc") as ViewChange | undefined;
      if (latest !== undefined && latest !== own && latest.sig !== "")
        this.emit({ type: "send", to: vc.from, msg: latest });
    }
    if (s.viewChanges.get(vc.view)?.has(vc.from)) return;
    if (vc.view <= s.v0) {
      this.reject(vc.from, "view change to a first view");
      return;
    }
    const why = checkViewChange(vc, this.member, this.signatureChecked.has(vc));
    if (why !== undefined) {
      this.reject(vc.from, why);
      return;
    }
    this.storeViewChange(s, vc);
    // PBFT's join rule: f+1 members ahead of us means at least one honest one timed out.
    const ahead = new Map<string, number>();
    for (const [view, m] of s.viewChanges) {
      if (view <= s.view) continue;
      for (const from of m.keys()) ahead.set(from, Math.min(ahead.get(from) ?? view, view));
    }
    if (ahead.size >= this.f + 1) {
      this.startViewChange(s, Math.min(...ahead.values()));
    }
    this.maybeNewView(s, vc.view);
  }

  protected maybeNewView(s: Slot, view: number): void {
    if (this.leader(s.index, view) !== this.config.self || s.view !== view || s.sentNewView.has(view)) return;
    const vcs = s.viewChanges.get(view);
    if (vcs === undefined || vcs.size < this.quorum) return;
    s.sentNewView.add(view);
    const chosen = [...vcs.values()].slice(0, this.quorum);
    // our own view change among them may still wait for its batch: sign and send the batch now
    if (chosen.some((vc) => vc.sig === "")) this.flushViewChanges();
    let best: ViewChange["prepared"] = null;
    for (const vc of chosen)
      if (vc.prepared !== null && (best === null || vc.prepared.view > best.view)) best = vc.prepared;
    const block =
      best !== null
        ? best.block
        : makeBlock({ round: s.round, index: s.index, view }, this.now, [], this.deps.signer);
    const hash = checkBlock(block, this.deps.verifier);
    const before = s.signed.get(`prepare:${view}`);
    if (before !== undefined && before !== hash) return;
    const nv: NewView = {
      t: "nv",
      from: this.config.self,
      round: s.round,
      index: s.index,
      view,
      vcs: chosen,
      block,
      sig: this.deps.signer.sign(newViewBytes(s.round, s.index, view, hash)),
    };
    s.mine.set("nv", nv);
    this.broadcast(nv);
    this.enterView(s, view, block, hash);
  }

  protected onNewView(s: Slot, nv: NewView): void {
    if (!Number.isSafeInteger(nv.view) || nv.view <= s.v0 || nv.view < s.view) return;
    if (nv.view === s.view && !s.inViewChange) return;
    const why = checkNewView(nv, this.leader(s.index, nv.view), this.member);
    if (why !== undefined) {
      this.reject(nv.from, why);
      return;
    }
    if (!this.txsValid(nv.block)) {
      this.reject(nv.from, "new view with an invalid transaction");
      return;
    }
    for (const vc of nv.vcs) this.storeViewChange(s, vc);
    this.enterView(s, nv.view, nv.block, checkBlock(nv.block, this.deps.verifier));
  }

  protected enterView(s: Slot, view: number, block: Block, hash: string): void {
    s.view = view;
    s.inViewChange = false;
    s.ticks = 0;
    s.resends = 0;
    s.spared = 0;
    this.armTimer(s);
    this.acceptProposal(s, view, block, hash);
  }
}
