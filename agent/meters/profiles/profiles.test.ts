import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { isMeterError } from "../errors.js";
import { getProfile, loadProfiles, parseProfile } from "./load.js";
import { planProfile, planReads } from "./planner.js";
import type { QuantitySpec } from "./schema.js";

test("every shipped profile validates and the required meters are there", () => {
  const all = loadProfiles();
  for (const name of [
    "sdm120",
    "sdm230",
    "sdm630",
    "sdm72",
    "abb-b23",
    "em24",
    "em340",
    "iem3000",
    "janitza-umg",
  ]) {
    assert.ok(all.has(name), `profile ${name} missing`);
  }
});

test("SDM630 is read in two blocks: voltage..current, and power..export", () => {
  // The 44 unused registers between them would cost 88 bytes on the wire; a second request costs 13
  // bytes and two frame gaps, so the planner splits there but bridges the 16 between power and frequency.
  const blocks = planProfile(getProfile("sdm630"));
  assert.deepEqual(
    blocks.map((b) => [b.fc, b.address, b.count]),
    [
      [4, 0, 8],
      [4, 0x34, 0x4c - 0x34],
    ],
  );
});

test("EM24: total import is 0x3E (not the partial 0x42), export is read alone because it may be refused", () => {
  const p = getProfile("em24");
  assert.equal(p.quantities.importWh.address, 0x3e);
  const blocks = planProfile(p);
  const exp = blocks.find((b) => b.items.some((i) => i.name === "exportWh"));
  assert.ok(exp?.mayBeAbsent);
  assert.equal(exp?.items.length, 1);
  assert.equal(blocks.length, 2);
});

test("iEM3000 stores wire addresses: manual register 3204 is wire 3203", () => {
  assert.equal(getProfile("iem3000").quantities.importWh.address, 3203);
});

test("a profile with a bad field is rejected naming the field", () => {
  const dir = mkdtempSync(join(tmpdir(), "prof-"));
  writeFileSync(
    join(dir, "x.json"),
    JSON.stringify({
      name: "x",
      manufacturer: "m",
      model: "m",
      quantities: {
        importWh: { fc: 5, address: 0, type: "float32" },
        powerW: { fc: 4, address: 2, type: "float32" },
      },
    }),
  );
  assert.throws(
    () => loadProfiles(dir),
    (e: unknown) => isMeterError(e, "PROFILE_INVALID") && /quantities\.importWh\.fc/.test(e.message),
  );
  assert.throws(
    () => parseProfile({}, "inline"),
    (e: unknown) => isMeterError(e, "PROFILE_INVALID"),
  );
  assert.throws(
    () => getProfile("nope"),
    (e: unknown) => isMeterError(e, "PROFILE_UNKNOWN"),
  );
});

const spec = (address: number, over: Partial<QuantitySpec> = {}): QuantitySpec => ({
  fc: 4,
  address,
  type: "float32",
  wordOrder: "high-first",
  scale: 1,
  mayBeAbsent: false,
  ...over,
});

test("planner merges within the gap, splits beyond it, by function code, and at the size limit", () => {
  const lim = { maxGap: 4, maxRegisters: 20 };
  assert.deepEqual(
    planReads({ importWh: spec(0), exportWh: spec(6), powerW: spec(20) }, lim).map((b) => [
      b.address,
      b.count,
    ]),
    [
      [0, 8],
      [20, 2],
    ],
  );
  assert.equal(planReads({ importWh: spec(0), powerW: spec(2, { fc: 3 }) }, lim).length, 2);
  assert.equal(
    planReads({ importWh: spec(0), powerW: spec(18) }, { maxGap: 100, maxRegisters: 19 }).length,
    2,
  );
});

test("property: every planned block covers its items and respects the limits", () => {
  const names = ["importWh", "exportWh", "powerW", "voltageV", "currentA", "frequencyHz"] as const;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.constantFrom(3, 4), fc.boolean()), {
        minLength: 6,
        maxLength: 6,
      }),
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 4, max: 125 }),
      (items, maxGap, maxRegisters) => {
        const q = Object.fromEntries(
          items.map(([a, f, absent], k) => [names[k], spec(a, { fc: f as 3 | 4, mayBeAbsent: absent })]),
        );
        const blocks = planReads(q, { maxGap, maxRegisters });
        let seen = 0;
        for (const b of blocks) {
          assert.ok(b.count <= Math.max(maxRegisters, 2));
          for (const it of b.items) {
            seen++;
            assert.equal(it.spec.fc, b.fc);
            assert.ok(it.offset >= 0 && it.offset + 2 <= b.count);
            assert.equal(b.address + it.offset, it.spec.address);
          }
          if (b.mayBeAbsent) assert.equal(b.items.length, 1);
        }
        assert.equal(seen, 6);
      },
    ),
  );
});
