import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { blockHash, GENESIS_PREV, type LedgerEntry, linkHash, makeBlock } from "./block.js";
import { isLedgerError } from "./errors.js";
import { simSigner } from "./signing.js";
import { BlockStore } from "./store.js";

const dir = mkdtempSync(join(tmpdir(), "gridlet-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function entries(count: number): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  let prev = GENESIS_PREV;
  for (let seq = 0; seq < count; seq++) {
    const block = makeBlock(
      { round: seq >> 2, index: seq % 4, view: 0 },
      seq,
      [{ seq }],
      simSigner(`m${seq % 4}`, "s"),
    );
    const link = linkHash(seq, prev, blockHash(block.header));
    out.push({ seq, prev, link, block, qc: { view: 0, votes: [] } });
    prev = link;
  }
  return out;
}

test("blocks persist in order across reopening, in WAL mode", () => {
  const file = join(dir, "a.db");
  const s = new BlockStore(file);
  const es = entries(10);
  for (const e of es) s.append(e, blockHash(e.block.header));
  s.setMeta("members", [{ id: "m0", publicKey: "00" }]);
  s.putCheckpoint({ round: 2, stateHash: "ab", link: es[7].link, sigs: [] });
  s.close();
  const r = new BlockStore(file, { readonly: true });
  assert.deepEqual(r.head(), { nextSeq: 10, link: es[9].link });
  assert.deepEqual(r.get(3), es[3]);
  assert.deepEqual(
    r.list(8, 5).map((e) => e.seq),
    [8, 9],
  );
  assert.equal([...r.iterate()].length, 10);
  assert.equal(r.checkpoints()[0].round, 2);
  assert.deepEqual(r.getMeta("members"), [{ id: "m0", publicKey: "00" }]);
  r.close();
});

test("a gap or a block that does not chain is refused", () => {
  const s = new BlockStore(join(dir, "b.db"));
  const es = entries(3);
  s.append(es[0], "h");
  assert.throws(
    () => s.append(es[2], "h"),
    (e) => isLedgerError(e, "GAP"),
  );
  assert.throws(
    () => s.append({ ...es[1], prev: "ff".repeat(32) }, "h"),
    (e) => isLedgerError(e, "BAD_CHAIN"),
  );
  s.close();
});

test("opening something that is not a ledger is a typed error", () => {
  assert.throws(
    () => new BlockStore(join(dir, "missing.db"), { readonly: true }),
    (e) => isLedgerError(e, "STORE"),
  );
});
