import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Frame } from "../codec/frame.js";
import { fromFrame, type Message, NackCode, toFrame } from "../codec/messages.js";
import { type Output, SessionMachine } from "./machine.js";

const hello = (bootId: number): Message => ({
  kind: "hello",
  fw: { major: 1, minor: 0, patch: 0 },
  caps: 3,
  s0Channels: 2,
  relayChannels: 1,
  deviceId: 7,
  bootId,
  uptimeMs: 10,
});

const sent = (out: Output[]): Frame[] => out.flatMap((o) => (o.kind === "send" ? [o.frame] : []));
const kinds = (out: Output[]) => out.map((o) => o.kind);

function connected(opts = {}) {
  const m = new SessionMachine({
    responseTimeoutMs: 100,
    maxAttempts: 3,
    helloIntervalMs: 200,
    idleMs: 1000,
    ...opts,
  });
  const first = sent(m.step({ kind: "start", now: 0 }));
  assert.equal(fromFrame(first[0]).msg.kind, "helloRequest");
  const out = m.step({ kind: "frame", frame: toFrame(hello(5), first[0].seq, true), now: 10 });
  assert.ok(kinds(out).includes("connected"));
  return m;
}

describe("session machine", () => {
  it("repeats HELLO until the firmware answers, then reports connected", () => {
    const m = new SessionMachine({ responseTimeoutMs: 100, helloIntervalMs: 200 });
    assert.equal(sent(m.step({ kind: "start", now: 0 })).length, 1);
    assert.equal(sent(m.step({ kind: "tick", now: 150 })).length, 0);
    const again = sent(m.step({ kind: "tick", now: 200 }));
    assert.equal(again.length, 1);
    assert.equal(fromFrame(again[0]).msg.kind, "helloRequest");
    // An unsolicited HELLO (the firmware booting) completes the handshake as well.
    const out = m.step({ kind: "frame", frame: toFrame(hello(9), 0, false), now: 250 });
    assert.deepEqual(kinds(out), ["connected", "message"]);
    assert.equal(m.state, "ready");
  });

  it("resends a request with the same sequence number, then fails it with TIMEOUT", () => {
    const m = connected();
    const out = m.step({
      kind: "request",
      id: 1,
      request: { kind: "relaySet", channel: 0, on: true },
      now: 20,
    });
    const [first] = sent(out);
    const retry1 = sent(m.step({ kind: "tick", now: 120 }));
    const retry2 = sent(m.step({ kind: "tick", now: 220 }));
    assert.deepEqual(retry1, [first]);
    assert.deepEqual(retry2, [first]);
    const end = m.step({ kind: "tick", now: 320 });
    const failed = end.find((o) => o.kind === "failed");
    assert.ok(failed?.kind === "failed" && failed.id === 1 && failed.error.code === "TIMEOUT");
  });

  it("matches the answer by sequence number and type, and ignores a late duplicate", () => {
    const m = connected();
    const [f] = sent(m.step({ kind: "request", id: 4, request: { kind: "relayGet", channel: 0 }, now: 20 }));
    const wrongSeq = m.step({
      kind: "frame",
      frame: toFrame({ kind: "relayState", channel: 0, on: true, feedback: null }, f.seq + 1, true),
      now: 30,
    });
    assert.ok(!kinds(wrongSeq).includes("reply"));
    const answer = toFrame({ kind: "relayState", channel: 0, on: true, feedback: null }, f.seq, true);
    const out = m.step({ kind: "frame", frame: answer, now: 40 });
    const reply = out.find((o) => o.kind === "reply");
    assert.ok(reply?.kind === "reply" && reply.id === 4 && reply.msg.kind === "relayState");
    assert.ok(!kinds(m.step({ kind: "frame", frame: answer, now: 50 })).includes("reply"));
  });

  it("fails a refused request with NACK naming the firmware's code", () => {
    const m = connected();
    const [f] = sent(m.step({ kind: "request", id: 2, request: { kind: "pulseGet", channel: 9 }, now: 20 }));
    const out = m.step({
      kind: "frame",
      frame: toFrame({ kind: "nack", rejectedType: f.type, code: NackCode.BAD_CHANNEL }, f.seq, true),
      now: 30,
    });
    const failed = out.find((o) => o.kind === "failed");
    assert.ok(failed?.kind === "failed" && failed.error.code === "NACK");
    assert.equal(failed.error.context.nack, "BAD_CHANNEL");
  });

  it("sends one request at a time, in order", () => {
    const m = connected();
    const a = sent(m.step({ kind: "request", id: 1, request: { kind: "pulseGet", channel: 0 }, now: 20 }));
    const b = sent(m.step({ kind: "request", id: 2, request: { kind: "pulseGet", channel: 1 }, now: 21 }));
    assert.equal(a.length, 1);
    assert.equal(b.length, 0);
    const count = (ch: number, seq: number) =>
      toFrame(
        {
          kind: "pulseCount",
          channel: ch,
          count: 1,
          pulsesPerKwh: 1000,
          bootId: 5,
          uptimeMs: 1,
          lastPulseMs: 1,
        },
        seq,
        true,
      );
    const next = sent(m.step({ kind: "frame", frame: count(0, a[0].seq), now: 30 }));
    assert.equal(next.length, 1);
    assert.deepEqual(fromFrame(next[0]).msg, { kind: "pulseGet", channel: 1 });
  });

  it("reports a firmware restart when a HELLO brings a new boot id", () => {
    const m = connected();
    const out = m.step({ kind: "frame", frame: toFrame(hello(6), 0, false), now: 50 });
    const r = out.find((o) => o.kind === "restarted");
    assert.ok(r?.kind === "restarted" && r.previousBootId === 5 && r.hello.bootId === 6);
  });

  it("probes a silent link with PING, declares it lost, and handshakes again", () => {
    const m = connected();
    const ping = sent(m.step({ kind: "tick", now: 1010 }));
    assert.equal(fromFrame(ping[0]).msg.kind, "ping");
    m.step({ kind: "tick", now: 1110 });
    m.step({ kind: "tick", now: 1210 });
    const lost = m.step({ kind: "tick", now: 1310 });
    assert.ok(kinds(lost).includes("disconnected"));
    assert.equal(fromFrame(sent(lost)[0]).msg.kind, "helloRequest");
    assert.equal(m.state, "handshake");
  });

  it("fails queued requests with NOT_CONNECTED when no firmware answers, and with CLOSED on stop", () => {
    const m = new SessionMachine({ responseTimeoutMs: 100, helloIntervalMs: 200, queueTimeoutMs: 1000 });
    m.step({ kind: "start", now: 0 });
    m.step({ kind: "request", id: 1, request: { kind: "relaySet", channel: 0, on: false }, now: 0 });
    const out = m.step({ kind: "tick", now: 1000 });
    const f = out.find((o) => o.kind === "failed");
    assert.ok(f?.kind === "failed" && f.error.code === "NOT_CONNECTED");
    m.step({ kind: "request", id: 2, request: { kind: "relaySet", channel: 0, on: false }, now: 1001 });
    const stop = m.step({ kind: "stop" });
    const c = stop.find((o) => o.kind === "failed");
    assert.ok(c?.kind === "failed" && c.id === 2 && c.error.code === "CLOSED");
  });

  it("passes unsolicited pulse counts and faults through and rejects bad payloads with a typed error", () => {
    const m = connected();
    const out = m.step({
      kind: "frame",
      frame: toFrame({ kind: "fault", code: 3, channel: 255, detail: 2 }, 1),
      now: 30,
    });
    assert.ok(out.some((o) => o.kind === "message" && o.msg.kind === "fault"));
    const bad = m.step({
      kind: "frame",
      frame: { type: 0x11, flags: 0, seq: 2, payload: new Uint8Array(3) },
      now: 31,
    });
    const r = bad.find((o) => o.kind === "rejected");
    assert.ok(r?.kind === "rejected" && r.error.code === "PAYLOAD_INVALID");
  });

  it("handshakes again when reports come from a boot it was not introduced to, then reports the restart", () => {
    const m = connected();
    const report = toFrame(
      {
        kind: "pulseCount",
        channel: 0,
        count: 3,
        pulsesPerKwh: 1000,
        bootId: 8,
        uptimeMs: 50,
        lastPulseMs: 40,
      },
      4,
    );
    const out = m.step({ kind: "frame", frame: report, now: 100 });
    assert.ok(kinds(out).includes("disconnected"));
    const [h] = sent(out);
    assert.equal(fromFrame(h).msg.kind, "helloRequest");
    const back = m.step({ kind: "frame", frame: toFrame(hello(8), h.seq, true), now: 110 });
    const r = back.find((o) => o.kind === "restarted");
    assert.ok(r?.kind === "restarted" && r.previousBootId === 5);
  });

  it("handshakes again when the transport reopened the port", () => {
    const m = connected();
    const out = m.step({ kind: "relink", now: 100 });
    assert.ok(kinds(out).includes("disconnected"));
    assert.equal(fromFrame(sent(out)[0]).msg.kind, "helloRequest");
  });

  it("settles every request exactly once, whatever the firmware sends and whenever time passes", () => {
    const frameArb = fc.oneof(
      fc.constant(toFrame(hello(5), 0)),
      fc.constant(toFrame(hello(6), 0)),
      fc
        .record({ seq: fc.nat(255), on: fc.boolean(), response: fc.boolean() })
        .map((r) => toFrame({ kind: "relayState", channel: 0, on: r.on, feedback: null }, r.seq, r.response)),
      fc
        .record({ seq: fc.nat(255), type: fc.nat(255), code: fc.integer({ min: 1, max: 5 }) })
        .map((r) => toFrame({ kind: "nack", rejectedType: r.type, code: r.code }, r.seq, true)),
      fc.record({ seq: fc.nat(255), len: fc.nat(40) }).map((r) => ({
        type: 0x11,
        flags: 1,
        seq: r.seq,
        payload: new Uint8Array(r.len),
      })),
    );
    const inputArb = fc.oneof(
      fc.record({ kind: fc.constant("frame" as const), frame: frameArb }),
      fc.record({ kind: fc.constant("tick" as const), dt: fc.nat(700) }),
      fc.record({ kind: fc.constant("request" as const), on: fc.boolean() }),
      fc.record({ kind: fc.constant("relink" as const) }),
    );
    fc.assert(
      fc.property(fc.array(inputArb, { maxLength: 80 }), (inputs) => {
        const m = new SessionMachine({
          responseTimeoutMs: 100,
          maxAttempts: 3,
          helloIntervalMs: 200,
          idleMs: 500,
        });
        let now = 0;
        let nextId = 1;
        const settled = new Map<number, number>();
        const note = (out: Output[]) => {
          for (const o of out) {
            if (o.kind === "reply" || o.kind === "failed") settled.set(o.id, (settled.get(o.id) ?? 0) + 1);
            if (o.kind === "send") assert.ok(o.frame.payload.length <= 64);
          }
        };
        note(m.step({ kind: "start", now }));
        for (const i of inputs) {
          if (i.kind === "tick") now += i.dt;
          if (i.kind === "frame") note(m.step({ kind: "frame", frame: i.frame, now }));
          else if (i.kind === "tick") note(m.step({ kind: "tick", now }));
          else if (i.kind === "relink") note(m.step({ kind: "relink", now }));
          else
            note(
              m.step({
                kind: "request",
                id: nextId++,
                request: { kind: "relaySet", channel: 0, on: i.on },
                now,
              }),
            );
        }
        note(m.step({ kind: "stop" }));
        for (let id = 1; id < nextId; id++) assert.equal(settled.get(id), 1, `request ${id}`);
        assert.ok(
          [...settled.keys()].every((id) => id > 0),
          "internal requests never surface",
        );
      }),
      { numRuns: 300 },
    );
  });
});
