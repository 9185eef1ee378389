import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../../../protocol/log.js";
import { encodeRtuAnswer, scanRtuRequests } from "../codec/modbus-rtu.js";
import { isMeterError } from "../errors.js";
import { systemClock } from "./clock.js";
import { zeroCounters } from "./modbus-client.js";
import { RtuBus } from "./rtu-bus.js";
import { type PortOpener, SerialLine } from "./serial-line.js";

const dir = mkdtempSync(join(tmpdir(), "rtubus-"));
const dev = join(dir, "ttyFAKE");
writeFileSync(dev, "");
after(() => rmSync(dir, { recursive: true, force: true }));

/** A port whose far end answers for the given units only, one chunk per answer. */
function fakeBus(alive: Set<number>, noiseFirst = 0) {
  let opens = 0;
  const opener: PortOpener = async (_s, ev) => {
    opens++;
    let noise = noiseFirst;
    return {
      write: async (bytes) => {
        for (const r of scanRtuRequests(bytes).requests) {
          if (!alive.has(r.unit)) continue;
          const ans = encodeRtuAnswer(
            r.unit,
            r.fc,
            Array.from({ length: r.count }, (_, i) => r.unit * 100 + i),
          );
          const out = noise-- > 0 ? Uint8Array.from([0x00, 0x7f, ...ans]) : ans;
          setImmediate(() => ev.onData(out));
        }
      },
      close: async () => undefined,
    };
  };
  const line = new SerialLine(
    { path: dev, baud: 38400 },
    { clock: systemClock, opener, backoffMinMs: 1, log: silentLogger },
  );
  return { bus: new RtuBus(line, { clock: systemClock, log: silentLogger }), opens: () => opens };
}

const timing = { timeoutMs: 15, delayMs: 0, retries: 2 };

test("one dead meter on a shared bus does not make the port cycle under the live one", async () => {
  const { bus, opens } = fakeBus(new Set([1]));
  const live = zeroCounters();
  const dead = zeroCounters();
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(
      [...(await bus.readRegisters({ unit: 1, fc: 4, address: 0, count: 2 }, timing, live))],
      [100, 101],
    );
    await assert.rejects(
      bus.readRegisters({ unit: 2, fc: 4, address: 0, count: 2 }, timing, dead),
      (e: unknown) => isMeterError(e, "TIMEOUT"),
    );
  }
  assert.equal(opens(), 1);
  assert.equal(dead.timeouts, 12, "three attempts per read");
  assert.equal(live.reconnects, 0);
  await bus.close();
});

test("a bus where nobody answers is dropped and reopened, and every device counts the reconnect", async () => {
  const { bus, opens } = fakeBus(new Set());
  const c = zeroCounters();
  for (let i = 0; i < 3; i++) {
    await assert.rejects(bus.readRegisters({ unit: 1, fc: 3, address: 0, count: 1 }, timing, c));
  }
  assert.ok(opens() >= 2, `opens ${opens()}`);
  assert.ok(c.reconnects >= 1);
  await bus.close();
});

test("requests from concurrent callers are serialised and each gets its own answer; noise is counted", async () => {
  const { bus } = fakeBus(new Set([1, 2, 3]), 1);
  const cs = [zeroCounters(), zeroCounters(), zeroCounters()];
  const got = await Promise.all(
    [1, 2, 3].map((u, k) => bus.readRegisters({ unit: u, fc: 4, address: 0, count: 3 }, timing, cs[k])),
  );
  assert.deepEqual(
    got.map((r) => [...r]),
    [
      [100, 101, 102],
      [200, 201, 202],
      [300, 301, 302],
    ],
  );
  assert.equal(cs[0].garbage, 1);
  await bus.close();
});
