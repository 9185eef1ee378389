/** The shipped recorded logs: valid, reproducible from their generator, and shaped as described. */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseMeterLog } from "../agent/meters/codec/meter-log.js";
import { DEFAULT_LOG_DIR, renderLog } from "../hardware/logs/generate.js";
import { HOUSEHOLDS } from "../hardware/logs/households.js";

for (const h of HOUSEHOLDS) {
  test(`${h.name}: committed log equals the generator's output, parses, and stays small`, () => {
    const path = join(DEFAULT_LOG_DIR, `${h.name}.csv`);
    const text = readFileSync(path, "utf8");
    assert.equal(text, renderLog(h), "generator is not deterministic or the file was edited");
    assert.ok(statSync(path).size < 1_000_000);
    const { rows } = parseMeterLog(text);
    assert.equal(rows.length, 3 * 1440);
    const noon = rows.filter((r) => new Date(r.ts).getUTCHours() === 12);
    const night = rows.filter((r) => new Date(r.ts).getUTCHours() === 3);
    const exported = rows[rows.length - 1].exportWh - rows[0].exportWh;
    if (h.pvKwp > 0) {
      assert.ok(noon.filter((r) => r.powerW < 0).length > noon.length / 2, "PV homes export at midday");
      assert.ok(exported > 5_000, `exported only ${exported} Wh in 3 days`);
    } else {
      assert.equal(exported, 0);
      assert.ok(noon.every((r) => r.powerW > 0));
    }
    assert.ok(
      night.every((r) => r.powerW > 0 && r.powerW < 1000),
      "night is base load",
    );
  });
}
