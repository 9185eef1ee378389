import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../../protocol/log.js";
import { DutyClock } from "./clock.js";

describe("DutyClock", () => {
  const quiet = createLogger("test", { level: "error", sink: { write: () => {} } });

  it("runs each duty on its own period, at the clock's resolution", () => {
    let t = 0;
    const clock = new DutyClock(() => t, quiet, 250);
    const runs: string[] = [];
    clock.every("ledger-pump", 250, () => runs.push("pump"));
    clock.every("node-duties", 1000, () => runs.push("node"));
    for (t = 0; t <= 2000; t += 250) clock.turn();
    assert.equal(runs.filter((r) => r === "pump").length, 9);
    assert.equal(runs.filter((r) => r === "node").length, 3); // at 0, 1000, 2000
  });

  it("a duty that throws does not stop the others, and runs again next period", () => {
    let t = 0;
    const errors: unknown[] = [];
    const log = createLogger("test", { level: "error", sink: { write: (line) => errors.push(line) } });
    const clock = new DutyClock(() => t, log, 250);
    let bad = 0;
    let good = 0;
    clock.every("announce", 250, () => {
      bad++;
      throw new Error("boom");
    });
    clock.every("ledger-pump", 250, () => good++);
    clock.turn();
    t = 250;
    clock.turn();
    assert.equal(bad, 2);
    assert.equal(good, 2);
    assert.equal(errors.length, 2);
  });

  it("refuses a duty registered twice", () => {
    const clock = new DutyClock(() => 0, quiet);
    clock.every("watchdog", 500, () => {});
    assert.throws(() => clock.every("watchdog", 500, () => {}), /registered twice/);
  });
});
