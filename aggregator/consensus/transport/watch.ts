import { BurstLog } from "../../../protocol/burst-log.js";
import type { Logger } from "../../../protocol/log.js";
import { type HostStats, type PeerState, SILENT_AFTER_MS, type ViewChangeCause } from "./host-stats.js";

export interface WatchSources {
  self: string;
  members: readonly string[];
  stats: HostStats;
  /** blocks executed */
  height: () => number;
  /** slots waiting for a decision (ReplicaHost.waitingSlots) */
  waiting: () => number;
  /** peers the link is connected to; absent when the link does not tell */
  connected?: () => readonly string[];
}

export interface WatchOptions {
  /** a progress line this often */
  reportEveryMs: number;
  /** slots waiting this long with no block executed is a stall */
  stallAfterMs: number;
  /** a burst of view changes ends after this long without one */
  viewChangeQuietMs: number;
  /** after a line about a peer, its next changes of state are only counted for this long */
  peerQuietMs: number;
}

export const DEFAULT_WATCH: WatchOptions = {
  reportEveryMs: 60_000,
  stallAfterMs: 10_000,
  viewChangeQuietMs: 30_000,
  peerQuietMs: 60_000,
};

type Shown = PeerState | "unreachable";

/**
 * Consensus you can watch in the logs, rate-limited: a progress line every `reportEveryMs` (height, round
 * rate, view changes by cause, catch-up, peers heard from, lagging and silent peers); a line when a peer
 * turns lagging, silent or unreachable and when it is in step again (from SILENT_AFTER_MS after the
 * start, so that peers have had time to be heard from; a flapping peer at most once a peerQuietMs); one line per burst of view changes
 * of one cause; a line when catching up starts and ends; a line when slots wait with no block executed
 * for `stallAfterMs`, and when blocks flow again. `check(now)` is called by the owner's periodic duty
 * (the aggregator's DutyClock); it reads the counters and decides nothing about consensus.
 */
export class ConsensusWatch {
  private readonly o: WatchOptions;
  private lastReport: number | undefined;
  private reported = {
    rounds: 0,
    blocks: 0,
    catchUp: 0,
    timeout: 0,
    orphan: 0,
    equivocation: 0,
    joined: 0,
  };
  private readonly shown = new Map<string, Shown>();
  /** per peer: when its last line was written, the state it named, and changes not written since */
  private readonly peerLines = new Map<string, { at: number; state: Shown; muted: number }>();
  private readonly bursts: BurstLog;
  private seenViewChanges = 0;
  private catchUp: { since: number; fromHeight: number; blocks: number } | undefined;
  private lastCatchUpBlocks = 0;
  private stalledSince: number | undefined;
  private busySince: number | undefined;
  private startedAt: number | undefined;

  constructor(
    private readonly s: WatchSources,
    private readonly log: Logger,
    o: Partial<WatchOptions> = {},
  ) {
    this.o = { ...DEFAULT_WATCH, ...o };
    this.bursts = new BurstLog(this.o.viewChangeQuietMs);
  }

  check(now: number): void {
    this.startedAt ??= now;
    // peers get SILENT_AFTER_MS after the start to be heard from before their state is news
    if (now - this.startedAt >= SILENT_AFTER_MS) this.peers(now);
    this.viewChanges();
    this.catchingUp(now);
    this.stall(now);
    if (this.lastReport === undefined) this.lastReport = now;
    else if (now - this.lastReport >= this.o.reportEveryMs) this.report(now);
  }

  /** The progress line: what changed since the previous one. */
  report(now: number): void {
    const st = this.s.stats;
    const seconds = Math.max(0.001, (now - (this.lastReport ?? now)) / 1000);
    const height = this.s.height();
    const states = this.states(now, height);
    const delta = (k: ViewChangeCause) => st.viewChanges[k] - this.reported[k];
    this.log.info("consensus progress", {
      height,
      roundsPerSec: round2((st.rounds - this.reported.rounds) / seconds),
      blocksPerSec: round2((st.blocks - this.reported.blocks) / seconds),
      viewChanges: {
        timeout: delta("timeout"),
        orphan: delta("orphan"),
        equivocation: delta("equivocation"),
        joined: delta("joined"),
      },
      catchUpBlocks: st.catchUp.blocks - this.reported.catchUp,
      heardFrom: `${st.heardFrom(now).length}/${this.s.members.length - 1}`,
      lagging: idsIn(states, "lagging"),
      silent: idsIn(states, "silent"),
      unreachable: idsIn(states, "unreachable"),
      waitingSlots: this.s.waiting(),
    });
    this.lastReport = now;
    this.reported = {
      rounds: st.rounds,
      blocks: st.blocks,
      catchUp: st.catchUp.blocks,
      ...st.viewChanges,
    };
  }

  private states(now: number, height: number): Map<string, Shown> {
    const connected = this.s.connected === undefined ? undefined : new Set(this.s.connected());
    const out = new Map<string, Shown>();
    for (const id of this.s.members) {
      if (id === this.s.self) continue;
      out.set(
        id,
        connected !== undefined && !connected.has(id)
          ? "unreachable"
          : this.s.stats.peerState(id, now, height),
      );
    }
    return out;
  }

  private peers(now: number): void {
    const height = this.s.height();
    for (const [id, state] of this.states(now, height)) {
      const before = this.shown.get(id) ?? "in-step";
      if (before === state) continue;
      this.shown.set(id, state);
      // A peer that flaps (a starved process, a flaky path) gets a line per state change at most once a
      // peerQuietMs; the changes in between are counted in the next line.
      const last = this.peerLines.get(id);
      const quiet = last === undefined || now - last.at >= this.o.peerQuietMs;
      if (state === "in-step" ? last === undefined || last.state === "in-step" : !quiet) {
        if (last !== undefined) last.muted++;
        continue;
      }
      const p = this.s.stats.peers.get(id);
      const fields = {
        peer: id,
        was: before,
        height,
        peerPosition: p?.position ?? null,
        lastMessageAgeMs: p === undefined ? null : now - p.lastAt,
        ...(last !== undefined && last.muted > 0 ? { changesNotLogged: last.muted } : {}),
      };
      this.peerLines.set(id, { at: now, state, muted: 0 });
      if (state === "in-step") this.log.info("peer in step again", fields);
      else this.log.warn(`peer ${state}`, fields);
    }
  }

  private viewChanges(): void {
    const recent = this.s.stats.recentViewChanges;
    const total = Object.values(this.s.stats.viewChanges).reduce((a, b) => a + b, 0);
    const fresh = Math.min(total - this.seenViewChanges, recent.length);
    this.seenViewChanges = total;
    for (const vc of recent.slice(recent.length - fresh)) {
      const n = this.s.members.length;
      const burst = this.bursts.note(vc.cause, vc.at);
      if (burst === undefined) continue;
      this.log.warn("view change", {
        cause: vc.cause,
        round: Math.floor(vc.seq / n),
        index: vc.seq % n,
        view: vc.view,
        // the ones of the burst before this line are counted in the progress lines
        previousBurst: burst.previous,
      });
    }
  }

  private catchingUp(now: number): void {
    const blocks = this.s.stats.catchUp.blocks;
    const fresh = blocks - this.lastCatchUpBlocks;
    this.lastCatchUpBlocks = blocks;
    if (fresh > 0 && this.catchUp === undefined) {
      this.catchUp = { since: now, fromHeight: this.s.height() - fresh, blocks: fresh };
      this.log.warn("catching up from peers' certificates", { fromHeight: this.catchUp.fromHeight });
    } else if (fresh > 0 && this.catchUp !== undefined) {
      this.catchUp.blocks += fresh;
    } else if (fresh === 0 && this.catchUp !== undefined) {
      this.log.info("caught up", {
        blocks: this.catchUp.blocks,
        fromHeight: this.catchUp.fromHeight,
        height: this.s.height(),
        ms: now - this.catchUp.since,
      });
      this.catchUp = undefined;
    }
  }

  private stall(now: number): void {
    const waiting = this.s.waiting();
    const last = this.s.stats.lastCommitAt;
    if (waiting === 0) this.busySince = undefined;
    else this.busySince ??= now;
    const quietSince = Math.max(this.busySince ?? now, last ?? Number.NEGATIVE_INFINITY);
    const stalled = waiting > 0 && now - quietSince >= this.o.stallAfterMs;
    if (stalled && this.stalledSince === undefined) {
      this.stalledSince = quietSince;
      this.log.warn("consensus stalled: slots wait and no block executes", {
        waitingSlots: waiting,
        height: this.s.height(),
        sinceMs: now - quietSince,
        heardFrom: `${this.s.stats.heardFrom(now).length}/${this.s.members.length - 1}`,
      });
    } else if (!stalled && this.stalledSince !== undefined) {
      this.log.info("consensus moving again", {
        stalledMs: now - this.stalledSince,
        height: this.s.height(),
      });
      this.stalledSince = undefined;
    }
  }
}

function idsIn(states: Map<string, Shown>, state: Shown): string[] {
  return [...states].filter(([, s]) => s === state).map(([id]) => id);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
