import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BurstLog } from "../../protocol/burst-log.js";
import { FrameScanner } from "./frame-scanner.js";
import { RetainedQuota, TokenBucket } from "./limits.js";

/** A fixed header: type byte and Remaining Length as MQTT encodes it [MQTT-2.2.3]. */
function header(type: number, remaining: number): Buffer {
  const out = [type];
  let x = remaining;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return Buffer.from(out);
}

const limits = { maxPacketBytes: 1000, maxConnectBytes: 200 };

describe("frame scanner", () => {
  it("refuses a CONNECT declaring 250 MB from its header alone", () => {
    const s = new FrameScanner(limits);
    assert.deepEqual(s.scan(header(0x10, 250_000_000)), {
      ok: false,
      code: "CONNECT_TOO_LARGE",
      declaredBytes: 250_000_005,
    });
  });

  it("lets packets up to the limit through, in any chunking, and refuses the first one above it", () => {
    const stream = Buffer.concat([
      header(0x10, 150),
      Buffer.alloc(150),
      header(0x30, 997),
      Buffer.alloc(997),
      header(0xc0, 0),
      header(0x30, 998),
      Buffer.alloc(10),
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b);
        const s = new FrameScanner(limits);
        s.loggedIn = true; // as after the CONNECT was accepted
        const results = points.slice(1).map((end, i) => s.scan(stream.subarray(points[i], end)));
        assert.deepEqual(results.at(-1), { ok: false, code: "PACKET_TOO_LARGE", declaredBytes: 1001 });
        assert.equal(s.packetsSeen, 4);
      }),
    );
  });

  it("holds every packet before the login to the CONNECT limit", () => {
    const s = new FrameScanner(limits);
    assert.deepEqual(s.scan(Buffer.concat([header(0x10, 10), Buffer.alloc(10)])), { ok: true });
    assert.deepEqual(s.scan(header(0x30, 500)), { ok: false, code: "PACKET_TOO_LARGE", declaredBytes: 503 });
    const t = new FrameScanner(limits);
    t.scan(Buffer.concat([header(0x10, 10), Buffer.alloc(10)]));
    t.loggedIn = true;
    assert.deepEqual(t.scan(header(0x30, 500)), { ok: true });
  });

  it("refuses a Remaining Length of five bytes", () => {
    const s = new FrameScanner(limits);
    assert.deepEqual(s.scan(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01])), {
      ok: false,
      code: "MALFORMED_LENGTH",
    });
  });

  it("never throws on any bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const s = new FrameScanner(limits);
        for (const c of chunks) s.scan(c);
      }),
    );
  });
});

describe("token bucket", () => {
  it("lets a burst through, then spaces messages at the rate, in arrival order", () => {
    const b = new TokenBucket(100, 3, 0);
    assert.deepEqual(
      [0, 0, 0, 0, 0].map(() => b.reserve(0, 1000)),
      [0, 0, 0, 10, 20],
    );
    assert.equal(b.reserve(30, 1000), 0, "three tokens came back, two were already promised");
  });

  it("refuses a turn further away than the longest wait, without spending a token", () => {
    const b = new TokenBucket(10, 1, 0);
    assert.equal(b.reserve(0, 50), 0);
    assert.equal(b.reserve(0, 50), undefined);
    assert.equal(b.reserve(100, 50), 0);
    assert.equal(b.full(100), false);
    assert.equal(b.full(200), true);
  });
});

describe("retained quota", () => {
  it("caps the count and bytes per owner, replacements and deletions included", () => {
    const q = new RetainedQuota(2, 100);
    assert.equal(q.admit("a", "t1", 40), undefined);
    assert.equal(q.admit("a", "t2", 40), undefined);
    assert.equal(q.admit("a", "t3", 1)?.code, "RETAINED_LIMIT");
    assert.equal(q.admit("b", "u1", 90), undefined, "another owner has its own share");
    assert.equal(q.admit("a", "t1", 61)?.code, "RETAINED_LIMIT");
    assert.equal(q.admit("a", "t1", 60), undefined);
    assert.equal(q.bytes("a"), 100);
    assert.equal(q.admit("a", "t2", 0), undefined, "an empty payload deletes");
    assert.equal(q.count("a"), 1);
    assert.equal(q.admit("a", "t3", 40), undefined);
  });
});

describe("burst log", () => {
  it("says to log the first refusal of a burst and again only after a quiet spell", () => {
    const log = new BurstLog(1000);
    const logged = [0, 10, 500, 1400, 2500, 2600].map((t) => log.note("k", t));
    assert.deepEqual(logged, [{ previous: 0 }, undefined, undefined, undefined, { previous: 4 }, undefined]);
    assert.deepEqual(log.note("other", 2600), { previous: 0 });
  });

  it("forgets quiet sources rather than grow without bound", () => {
    const log = new BurstLog(10, 100);
    for (let i = 0; i < 1000; i++) log.note(`src-${i}`, i);
    assert.ok(log.current("src-999", 999));
    assert.equal(log.current("src-0", 999), undefined);
  });
});
