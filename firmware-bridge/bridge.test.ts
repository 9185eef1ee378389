import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../protocol/log.js";
import { FirmwareBridge } from "./bridge.js";
import { encodeFrame } from "./codec/frame.js";
import { fromFrame, type Message, toFrame } from "./codec/messages.js";
import { FrameDecoder } from "./codec/stream.js";
import { isBridgeError } from "./errors.js";
import type { PortHandlers } from "./transport/port.js";

/** A scripted firmware behind a fake port: answers through the codec, delivering bytes in small chunks. */
function fakeFirmware(answer: (msg: Message) => Message | undefined, opts: { noise?: boolean } = {}) {
  let h: PortHandlers | undefined;
  const decoder = new FrameDecoder();
  let now = 0;
  let tick: (() => void) | undefined;
  const deliver = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i += 3) h?.onData(bytes.subarray(i, i + 3));
  };
  const port = {
    open: async (handlers: PortHandlers) => {
      h = handlers;
      return {
        write: async (bytes: Uint8Array) => {
          for (const item of decoder.push(bytes)) {
            if (!item.ok) continue;
            const env = fromFrame(item.frame);
            const reply = answer(env.msg);
            if (reply === undefined) continue;
            // Noise first: a damaged copy of the answer, which must be refused and counted.
            if (opts.noise) {
              const bad = encodeFrame(toFrame(reply, env.seq, true));
              bad[4] ^= 0x40;
              deliver(bad);
            }
            deliver(encodeFrame(toFrame(reply, env.seq, true)));
          }
        },
        close: async () => {
          h?.onClose();
        },
      };
    },
    clock: {
      now: () => now,
      every: (_ms: number, fn: () => void) => {
        tick = fn;
        return () => {
          tick = undefined;
        };
      },
    },
    advance(ms: number) {
      now += ms;
      tick?.();
    },
  };
  return port;
}

const helloMsg: Message = {
  kind: "hello",
  fw: { major: 1, minor: 2, patch: 3 },
  caps: 7,
  s0Channels: 1,
  relayChannels: 1,
  deviceId: 99,
  bootId: 1,
  uptimeMs: 5,
};

describe("firmware bridge shell", () => {
  it("turns answers delivered in fragments, after noise, into resolved requests and counts the noise", async () => {
    const fw = fakeFirmware(
      (m) =>
        m.kind === "helloRequest"
          ? helloMsg
          : m.kind === "relaySet"
            ? { kind: "relayState", channel: m.channel, on: m.on, feedback: m.on }
            : undefined,
      { noise: true },
    );
    const b = await FirmwareBridge.open({ open: fw.open, clock: fw.clock, log: silentLogger });
    assert.equal((await b.waitConnected()).deviceId, 99);
    const st = await b.setRelay(0, true);
    assert.equal(st.on, true);
    assert.ok(b.counters.crcErrors >= 2, `crc errors ${b.counters.crcErrors}`);
    await b.close();
  });

  it("refuses to confirm a relay whose feedback contact disagrees", async () => {
    const fw = fakeFirmware((m) =>
      m.kind === "helloRequest"
        ? helloMsg
        : m.kind === "relaySet"
          ? { kind: "relayState", channel: m.channel, on: m.on, feedback: false }
          : undefined,
    );
    const b = await FirmwareBridge.open({ open: fw.open, clock: fw.clock, log: silentLogger });
    await b.waitConnected();
    await assert.rejects(
      b.setRelay(0, true),
      (e) => isBridgeError(e, "RELAY_NOT_CONFIRMED") && e.context.feedback === false,
    );
    assert.equal((await b.setRelay(0, false)).on, false);
    await b.close();
  });

  it("fails an unanswered request with TIMEOUT as injected time passes, and pending ones with CLOSED", async () => {
    const fw = fakeFirmware((m) => (m.kind === "helloRequest" ? helloMsg : undefined));
    const b = await FirmwareBridge.open({
      open: fw.open,
      clock: fw.clock,
      log: silentLogger,
      session: { responseTimeoutMs: 100, maxAttempts: 2 },
    });
    await b.waitConnected();
    const p = b.readPulses(0);
    fw.advance(100);
    fw.advance(100);
    await assert.rejects(p, (e) => isBridgeError(e, "TIMEOUT"));
    assert.equal(b.counters.timeouts, 1);
    const q = b.readPulses(0);
    await b.close();
    await assert.rejects(q, (e) => isBridgeError(e, "CLOSED"));
  });
});
