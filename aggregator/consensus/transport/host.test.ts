import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { LedgerEntry } from "../../ledger/block.js";
import { BlockStore } from "../../ledger/store.js";
import type { Message } from "../messages.js";
import type { Input, Output, VoteRecord } from "../types.js";
import { type DecidedLog, MemoryLog, ReplicaHost } from "./host.js";

const turn = () => new Promise((r) => setImmediate(r));

/** A core that answers every message with a vote record and two sends, as a replica's prepare does. */
function echoCore(self: string) {
  let n = 0;
  return {
    config: { self, members: [self, "eag1"] },
    step(input: Input): Output[] {
      if (input.type !== "message") return [];
      n += 1;
      const record: VoteRecord = { seq: n, kind: "prepare", view: 0, hash: `h${n}` };
      const msg = { t: "fetch", from: self, fromSeq: n } as Message;
      return [
        { type: "send", to: "*", msg },
        { type: "vote", record },
        { type: "send", to: "eag1", msg },
      ];
    },
  };
}

function recordingLog(events: string[]): DecidedLog {
  const inner = new MemoryLog();
  return {
    head: () => inner.head(),
    append: (e: LedgerEntry) => inner.append(e),
    list: (a, b) => inner.list(a, b),
    putCheckpoint: (c) => inner.putCheckpoint(c),
    putVote: (r) => {
      events.push(`vote ${r.seq}`);
      inner.putVote(r);
    },
    votes: () => inner.votes() as never[],
    pruneVotes: (s) => inner.pruneVotes(s),
    transaction: <T>(fn: () => T): T => {
      events.push("begin");
      const out = fn();
      events.push("fsync");
      return out;
    },
  };
}

test("group commit: a turn's votes are written in one transaction before any message leaves", async () => {
  const events: string[] = [];
  const link = {
    send: (to: string) => events.push(`send ${to}`),
    broadcast: () => events.push("broadcast"),
  };
  const host = new ReplicaHost(echoCore("eag0"), link, recordingLog(events));
  host.start();
  events.length = 0;
  const ping = { t: "fetch", from: "eag1", fromSeq: 0 } as Message;
  host.deliver(ping);
  host.deliver(ping);
  assert.deepEqual(events, [], "nothing is written or sent inside the steps");
  await turn();
  assert.deepEqual(events, [
    "begin",
    "vote 1",
    "vote 2",
    "fsync",
    "broadcast",
    "send eag1",
    "broadcast",
    "send eag1",
  ]);
  assert.deepEqual(host.durability, { transactions: 1, writes: 2 });
  host.stop();
});

test("a step that writes nothing, with nothing waiting, sends at once; a log that is not durable never waits", () => {
  const events: string[] = [];
  const link = { send: (to: string) => events.push(`send ${to}`), broadcast: () => events.push("broadcast") };
  const quiet = {
    config: { self: "eag0", members: ["eag0", "eag1"] },
    step: (input: Input): Output[] =>
      input.type === "message"
        ? [{ type: "send", to: "eag1", msg: { t: "fetch", from: "eag0", fromSeq: 0 } as Message }]
        : [],
  };
  const host = new ReplicaHost(quiet, link, recordingLog(events));
  host.start();
  host.deliver({ t: "fetch", from: "eag1", fromSeq: 0 } as Message);
  assert.deepEqual(events, ["send eag1"]);
  host.stop();
  const memory: string[] = [];
  const inMemory = new ReplicaHost(
    echoCore("eag0"),
    { send: (to) => memory.push(`send ${to}`), broadcast: () => memory.push("broadcast") },
    new MemoryLog(),
  );
  inMemory.start();
  inMemory.deliver({ t: "fetch", from: "eag1", fromSeq: 0 } as Message);
  assert.deepEqual(memory, ["broadcast", "send eag1"]);
  inMemory.stop();
});

test("stop writes what the core already asked to persist", () => {
  const events: string[] = [];
  const host = new ReplicaHost(
    echoCore("eag0"),
    { send: () => undefined, broadcast: () => undefined },
    recordingLog(events),
  );
  host.start();
  host.deliver({ t: "fetch", from: "eag1", fromSeq: 0 } as Message);
  host.stop();
  assert.ok(events.includes("vote 1"));
});

test("the block store commits with synchronous=FULL", () => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-host-"));
  try {
    const store = new BlockStore(join(dir, "ledger.db"));
    const seen = store.transaction(() =>
      (store as unknown as { db: { pragma(s: string, o: object): unknown } }).db.pragma("synchronous", {
        simple: true,
      }),
    );
    assert.equal(seen, 2);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
