import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MeterError } from "../errors.js";
import { buildTelegram, P1Framer, parseTelegram } from "./dsmr.js";
import { REAL_ISKRA_AM550, SPEC_EXAMPLE } from "./fixtures/dsmr.js";
import { ESCAPED, PADDED, REAL_ISKRA } from "./fixtures/sml.js";
import { decodeSmlNodes, parseSmlPayload } from "./sml.js";
import { encodeSmlFile, encodeSmlPayload } from "./sml-encode.js";
import { encodeSmlTransport, SmlFramer } from "./sml-transport.js";

test("P1: a real Iskra AM550 telegram passes its CRC and gives exact Wh", () => {
  const v = parseTelegram(REAL_ISKRA_AM550);
  assert.ok(!(v instanceof MeterError), String(v));
  assert.equal(v.importWh, 3432829 + 3224632);
  assert.equal(v.exportWh, 0);
  assert.equal(v.powerW, 433);
  assert.equal(v.voltageV, 236.7);
  assert.equal(v.ident, "ISK5\\2M550T-1012");
});

test("P1: the DSMR 5.0.2 example, whose printed CRC does not match its text, is rejected until re-signed", () => {
  const published = parseTelegram(SPEC_EXAMPLE);
  assert.ok(published instanceof MeterError && published.code === "CRC_MISMATCH");
  const body = SPEC_EXAMPLE.slice(0, SPEC_EXAMPLE.indexOf("!"))
    .split("\r\n")
    .filter((l) => l !== "");
  const fixed = buildTelegram(body[0].slice(1), body.slice(1));
  const v = parseTelegram(fixed);
  assert.ok(!(v instanceof MeterError), String(v));
  assert.equal(v.importWh, 2 * 123456789);
  assert.equal(v.exportWh, 2 * 123456789);
  assert.equal(v.powerW, 1193);
});

test("P1: one changed digit fails the CRC; a missing import counter is VALUE_MISSING", () => {
  const bad = REAL_ISKRA_AM550.replace("003432.829", "003432.839");
  assert.equal((parseTelegram(bad) as MeterError).code, "CRC_MISMATCH");
  const t = buildTelegram("XXX5\\2test", ["1-0:1.7.0(00.100*kW)"]);
  assert.equal((parseTelegram(t) as MeterError).code, "VALUE_MISSING");
});

test("P1 framer finds telegrams in chunks cut anywhere, after noise and a truncated telegram", () => {
  const stream = Buffer.from(
    `xx\r\n${REAL_ISKRA_AM550.slice(0, 200)}${REAL_ISKRA_AM550}${REAL_ISKRA_AM550}`,
    "latin1",
  );
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 40 }), (cuts) => {
      const f = new P1Framer();
      const got: string[] = [];
      let i = 0;
      let k = 0;
      while (i < stream.length) {
        const n = cuts[k++ % cuts.length];
        for (const o of f.push(stream.subarray(i, i + n))) if (o.kind === "telegram") got.push(o.text);
        i += n;
      }
      assert.equal(got.length, 2);
      for (const g of got) assert.ok(!(parseTelegram(g) instanceof MeterError));
    }),
    { numRuns: 200 },
  );
});

test("property: P1 framer and parser give values or typed errors for arbitrary input", () => {
  const alphabet = fc.constantFrom(..."/!()*:.-0123456789ABCDEFkWh\r\n ".split(""));
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ unit: alphabet, maxLength: 200 }), fc.string()), { maxLength: 6 }),
      (parts) => {
        const f = new P1Framer();
        for (const p of parts) {
          for (const o of f.push(Buffer.from(p, "latin1"))) {
            if (o.kind === "telegram") {
              const v = parseTelegram(o.text);
              assert.ok(v instanceof MeterError || Number.isInteger(v.importWh));
            } else assert.ok(o.error instanceof MeterError);
          }
        }
        const v = parseTelegram(parts.join(""));
        assert.ok(v instanceof MeterError || typeof v.importWh === "number");
      },
    ),
    { numRuns: 1000 },
  );
});

test("SML transport: published vectors for padding and escapes inside the data", () => {
  for (const { wire, payload } of [PADDED, ESCAPED]) {
    const out = new SmlFramer().push(wire);
    assert.equal(out.length, 1);
    assert.equal(out[0].kind, "file");
    if (out[0].kind === "file") assert.deepEqual([...out[0].payload], [...payload]);
  }
  assert.deepEqual([...encodeSmlTransport(ESCAPED.payload)], [...ESCAPED.wire]);
  assert.deepEqual([...encodeSmlTransport(PADDED.payload)], [...PADDED.wire]);
});

test("SML: a real Iskra transmission gives import 79139.3 Wh rounded, export 0, power 2144 W", () => {
  const out = new SmlFramer().push(REAL_ISKRA);
  assert.equal(out[0].kind, "file");
  if (out[0].kind !== "file") return;
  const v = parseSmlPayload(out[0].payload);
  assert.deepEqual(v, { importWh: 79139, exportWh: 0, powerW: 2144 });
});

test("SML: a corrupted byte fails CRC-16/X-25", () => {
  const bad = Uint8Array.from(REAL_ISKRA);
  bad[100] ^= 1;
  const out = new SmlFramer().push(bad);
  assert.equal(out[0].kind === "error" && out[0].error.code, "CRC_MISMATCH");
});

test("SML encoder output decodes to the values it was given (and round-trips the framer)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: -20000, max: 20000 }),
      fc.nat(),
      (importWh, exportWh, powerW, seq) => {
        const out = new SmlFramer().push(encodeSmlFile({ importWh, exportWh, powerW, seq }));
        assert.equal(out.length, 1);
        assert.equal(out[0].kind, "file");
        if (out[0].kind !== "file") return;
        assert.deepEqual(parseSmlPayload(out[0].payload), { importWh, exportWh, powerW });
      },
    ),
    { numRuns: 300 },
  );
  // open, get-list and close response, each a list of six ending in the end-of-message marker
  const msgs = decodeSmlNodes(encodeSmlPayload({ importWh: 1, exportWh: 2, powerW: 3, seq: 1 }));
  assert.deepEqual(
    msgs.map((m) => (m.t === "list" ? [m.v.length, m.v[5].t] : m.t)),
    [
      [6, "end"],
      [6, "end"],
      [6, "end"],
    ],
  );
});

test("property: SML framer and decoder give files or typed errors for arbitrary bytes", () => {
  const start = Uint8Array.from([0x1b, 0x1b, 0x1b, 0x1b, 1, 1, 1, 1]);
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }),
          fc.constant(start),
          fc.constant(REAL_ISKRA.subarray(0, 50)),
        ),
        {
          maxLength: 8,
        },
      ),
      (chunks) => {
        const f = new SmlFramer();
        for (const c of chunks) {
          for (const o of f.push(c)) {
            if (o.kind === "file") {
              const v = parseSmlPayload(o.payload);
              assert.ok(v instanceof MeterError || Number.isFinite(v.importWh));
            } else assert.ok(o.error instanceof MeterError);
          }
        }
        const v = parseSmlPayload(Uint8Array.from(chunks.flatMap((c) => [...c])));
        assert.ok(v instanceof MeterError || typeof v.importWh === "number");
      },
    ),
    { numRuns: 1000 },
  );
});

test("SML framer finds every file in a stream cut anywhere, with noise and a truncated file between", () => {
  const a = encodeSmlFile({ importWh: 1000, exportWh: 2, powerW: 3, seq: 1 });
  const b = REAL_ISKRA;
  const stream = Uint8Array.from([0x42, 0x1b, 0x00, ...a.subarray(0, 40), ...a, 0x99, ...b, ...a]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }), (cuts) => {
      const f = new SmlFramer();
      const files: Uint8Array[] = [];
      let i = 0;
      let k = 0;
      while (i < stream.length) {
        const n = cuts[k++ % cuts.length];
        for (const o of f.push(stream.subarray(i, i + n))) if (o.kind === "file") files.push(o.payload);
        i += n;
      }
      assert.deepEqual(
        files.map((p) => {
          const v = parseSmlPayload(p);
          return v instanceof MeterError ? v.code : v.importWh;
        }),
        [1000, 79139, 1000],
      );
    }),
    { numRuns: 300 },
  );
});
