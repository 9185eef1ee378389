import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConditionTracker, createLogger, readLogSettings, stderrIsJournal } from "./log.js";

function capture(opts: Parameters<typeof createLogger>[1] = {}): {
  lines: string[];
  log: ReturnType<typeof createLogger>;
} {
  const lines: string[] = [];
  const log = createLogger("agent", {
    level: "debug",
    json: false,
    journal: false,
    now: () => Date.UTC(2026, 0, 31, 12, 0, 0, 123),
    sink: { write: (l) => lines.push(l) },
    ...opts,
  });
  return { lines, log };
}

describe("log lines", () => {
  it("text lines start with an ISO timestamp", () => {
    const { lines, log } = capture();
    log.child("meter").warn("meter read failed", { meter: "grid", code: "TIMEOUT" });
    assert.deepEqual(lines, [
      "2026-01-31T12:00:00.123Z WARN  agent:meter meter read failed meter=grid code=TIMEOUT",
    ]);
  });

  it("JSON lines carry the time, level, namespace and fields", () => {
    const { lines, log } = capture({ json: true });
    log.info("started", { seq: 5n });
    assert.deepEqual(JSON.parse(lines[0]), {
      time: "2026-01-31T12:00:00.123Z",
      level: "info",
      ns: "agent",
      msg: "started",
      seq: "5",
    });
  });

  it("under journald each line starts with its sd-daemon priority and has no timestamp", () => {
    const { lines, log } = capture({ json: true, journal: true, level: "trace" });
    log.trace("t");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assert.deepEqual(
      lines.map((l) => l.slice(0, 3)),
      ["<7>", "<7>", "<6>", "<4>", "<3>"],
    );
    const body = JSON.parse(lines[3].slice(3));
    assert.equal(body.time, undefined);
    assert.equal(body.level, "warn");
    const text = capture({ json: false, journal: true });
    text.log.warn("w", { a: 1 });
    assert.deepEqual(text.lines, ["<4>WARN  agent w a=1"]);
  });

  it("the level filters", () => {
    const { lines, log } = capture({ level: "warn" });
    log.info("no");
    log.warn("yes");
    assert.equal(lines.length, 1);
    assert.equal(log.enabled("info"), false);
  });
});

describe("log settings from the environment", () => {
  it("a wrong level or format is named with its value", () => {
    assert.throws(
      () => readLogSettings({ GRIDLET_LOG_LEVEL: "verbose" }, false),
      (e: Error & { code?: string }) =>
        e.code === "CONFIG_INVALID" &&
        /GRIDLET_LOG_LEVEL: got "verbose", expected one of trace/.test(e.message),
    );
    assert.throws(
      () => readLogSettings({ GRIDLET_LOG_FORMAT: "xml" }, false),
      /GRIDLET_LOG_FORMAT: got "xml"/,
    );
  });

  it("defaults: info, text; JSON under journald unless text is asked for", () => {
    assert.deepEqual(readLogSettings({}, false), { level: "info", json: false, journal: false });
    assert.deepEqual(readLogSettings({ GRIDLET_LOG_LEVEL: "warn" }, true), {
      level: "warn",
      json: true,
      journal: true,
    });
    assert.equal(readLogSettings({ GRIDLET_LOG_FORMAT: "text" }, true).json, false);
  });

  it("JOURNAL_STREAM counts only when it names stderr's own device and inode", () => {
    const stat = () => ({ dev: 25, ino: 4711 });
    assert.equal(stderrIsJournal({ JOURNAL_STREAM: "25:4711" }, stat), true);
    assert.equal(
      stderrIsJournal({ JOURNAL_STREAM: "25:4712" }, stat),
      false,
      "inherited by a child with a pipe",
    );
    assert.equal(stderrIsJournal({ JOURNAL_STREAM: "junk" }, stat), false);
    assert.equal(stderrIsJournal({}, stat), false);
  });
});

describe("conditions logged on change, not per attempt", () => {
  it("a repeated state is reported once; a new kind once more; alternation stays quiet", () => {
    const t = new ConditionTracker();
    const logged = ["TIMEOUT", "TIMEOUT", "PORT_CLOSED", "TIMEOUT", "PORT_CLOSED", "TIMEOUT"].map((s) =>
      t.enter("grid", s),
    );
    assert.deepEqual(logged, [true, false, true, false, false, false]);
    assert.equal(t.state("grid"), "TIMEOUT");
    assert.equal(t.leave("grid"), 6);
    assert.equal(t.leave("grid"), undefined, "nothing to end twice");
    assert.equal(t.enter("grid", "TIMEOUT"), true, "a new episode is reported again");
  });

  it("keys are independent", () => {
    const t = new ConditionTracker();
    assert.equal(t.enter("a", "X"), true);
    assert.equal(t.enter("b", "X"), true);
    assert.equal(t.enter("a", "X"), false);
  });
});
