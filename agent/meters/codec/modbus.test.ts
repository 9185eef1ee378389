import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MeterError } from "../errors.js";
import { decodeReadAnswerPdu, type ReadRequest } from "./modbus-pdu.js";
import {
  encodeRtuAnswer,
  encodeRtuException,
  encodeRtuRequest,
  interFrameGapMs,
  readTransactionMs,
  scanRtuAnswer,
  scanRtuRequests,
} from "./modbus-rtu.js";
import { encodeTcpAnswer, encodeTcpRequest, MbapFramer } from "./modbus-tcp.js";
import { decodeRegisters, encodeRegisters } from "./registers.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const REQ: ReadRequest = { unit: 1, fc: 4, address: 0x0048, count: 4 };

test("RTU request bytes match a known SDM630 read (unit 1, input registers 0x0000, 2)", () => {
  assert.equal(hex(encodeRtuRequest({ unit: 1, fc: 4, address: 0, count: 2 })), "01040000000271cb");
});

test("RTU answer round-trips through the scanner, with noise before it counted as skipped", () => {
  const ans = encodeRtuAnswer(1, 4, [0x4365, 0x0000, 0x1234, 0xabcd]);
  const r = scanRtuAnswer(Uint8Array.from([0xff, 0x00, ...ans]), REQ);
  assert.equal(r.kind, "registers");
  if (r.kind !== "registers") return;
  assert.deepEqual([...r.registers], [0x4365, 0, 0x1234, 0xabcd]);
  assert.equal(r.skipped, 2);
});

test("RTU exception answer gives MODBUS_EXCEPTION with the exception code", () => {
  const r = scanRtuAnswer(encodeRtuException(1, 4, 2), REQ);
  assert.equal(r.kind, "error");
  if (r.kind !== "error") return;
  assert.equal(r.error.code, "MODBUS_EXCEPTION");
  assert.equal(r.error.context.exception, 2);
});

test("RTU answer with a flipped bit gives CRC_MISMATCH, a partial one waits", () => {
  const ans = encodeRtuAnswer(1, 4, [1, 2, 3, 4]);
  ans[5] ^= 0x10;
  const r = scanRtuAnswer(ans, REQ);
  assert.equal(r.kind === "error" && r.error.code, "CRC_MISMATCH");
  assert.equal(scanRtuAnswer(encodeRtuAnswer(1, 4, [1, 2, 3, 4]).subarray(0, 7), REQ).kind, "incomplete");
});

test("request scanner finds requests between noise and keeps an unfinished tail", () => {
  const a = encodeRtuRequest(REQ);
  const b = encodeRtuRequest({ unit: 7, fc: 3, address: 3203, count: 8 });
  const r = scanRtuRequests(Uint8Array.from([0x55, ...a, ...b, ...a.subarray(0, 3)]));
  assert.deepEqual(r.requests, [REQ, { unit: 7, fc: 3, address: 3203, count: 8 }]);
  assert.equal(r.rest.length, 3);
  assert.equal(r.skipped, 1);
});

test("timing: 3.5 characters at 9600 8N1, fixed 1.75 ms above 19200, ~25 ms per two-register read", () => {
  assert.ok(Math.abs(interFrameGapMs({ baud: 9600 }) - 3.6458) < 1e-3);
  assert.equal(interFrameGapMs({ baud: 38400 }), 1.75);
  // 8 + 9 bytes at 10 bits, plus two gaps: 17.708 + 7.292 = 25.0 ms, so 40 reads/s is the limit.
  assert.ok(Math.abs(readTransactionMs(2, { baud: 9600 }) - 25.0) < 1e-6);
  // 8E1 has 11-bit characters
  assert.ok(readTransactionMs(2, { baud: 9600, parity: "even" }) > 27);
});

test("MBAP frames split across chunks are reassembled; a bad header poisons the stream", () => {
  const f = new MbapFramer();
  const a = encodeTcpAnswer(5, 1, 4, [1, 2]);
  const b = encodeTcpAnswer(6, 1, 4, [3, 4]);
  const all = Uint8Array.from([...a, ...b]);
  const first = f.push(all.subarray(0, 5));
  assert.deepEqual(first, []);
  const rest = f.push(all.subarray(5));
  assert.ok(Array.isArray(rest));
  assert.deepEqual(
    (rest as { transactionId: number }[]).map((x) => x.transactionId),
    [5, 6],
  );
  assert.equal(hex(encodeTcpRequest(1, REQ)).slice(0, 14), "00010000000601");
  const bad = new MbapFramer().push(Uint8Array.from([0, 1, 0, 9, 0, 6, 1, 4, 0, 0, 0, 2]));
  assert.ok(bad instanceof MeterError && bad.code === "FRAME_INVALID");
});

test("register decoding: Eastron float high word first, Carlo Gavazzi int32 low word first, int64", () => {
  assert.equal(decodeRegisters([0x4365, 0x0000], 0, "float32", "high-first"), 229);
  assert.equal(decodeRegisters([0x3039, 0x0000], 0, "int32", "low-first"), 12345);
  assert.equal(decodeRegisters([0xffff, 0xffff], 0, "int32", "low-first"), -1);
  assert.equal(decodeRegisters([0, 0, 0x0001, 0x86a0], 0, "int64", "high-first"), 100000);
  assert.throws(() => decodeRegisters([0x7fc0, 0], 0, "float32", "high-first"), /finite/);
  assert.throws(
    () => decodeRegisters([1], 0, "uint32", "high-first"),
    (e: unknown) => e instanceof MeterError,
  );
});

test("property: register encode/decode round-trips for every type and word order", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("uint16", "int16", "uint32", "int32", "uint64", "int64") as fc.Arbitrary<
        "uint16" | "int16" | "uint32" | "int32" | "uint64" | "int64"
      >,
      fc.constantFrom("high-first", "low-first") as fc.Arbitrary<"high-first" | "low-first">,
      fc.integer({ min: 0, max: 30000 }),
      (type, order, v) => decodeRegisters(encodeRegisters(v, type, order), 0, type, order) === v,
    ),
  );
});

test("property: the RTU answer scanner never throws and never hangs on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 125 }), (bytes, count) => {
      const r = scanRtuAnswer(bytes, { unit: bytes[0] ?? 1, fc: 4, address: 0, count });
      if (r.kind === "registers") assert.equal(r.registers.length, count);
      if (r.kind === "error") assert.ok(r.error instanceof MeterError);
    }),
    { numRuns: 2000 },
  );
});

test("property: request scanner and MBAP framer and PDU decoder accept any bytes without throwing", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const f = new MbapFramer();
      for (const c of chunks) {
        const r = f.push(c);
        if (r instanceof MeterError) continue;
        for (const fr of r) {
          const d = decodeReadAnswerPdu(fr.pdu, { unit: fr.unit, fc: 3, address: 0, count: 2 });
          assert.ok(d instanceof MeterError || d.length === 2);
        }
      }
      scanRtuRequests(Uint8Array.from(chunks.flatMap((c) => [...c])));
    }),
    { numRuns: 1000 },
  );
});
