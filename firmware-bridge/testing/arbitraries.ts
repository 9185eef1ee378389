/** fast-check generators shared by the codec tests and the C cross-check. */
import fc from "fast-check";
import type { Message } from "../codec/messages.js";

export const arbMessage: fc.Arbitrary<Message> = fc
  .oneof(
    fc.constant<Message>({ kind: "helloRequest" }),
    fc.record({
      kind: fc.constant("hello" as const),
      fw: fc.record({ major: fc.nat(255), minor: fc.nat(255), patch: fc.nat(255) }),
      caps: fc.nat(255),
      s0Channels: fc.nat(4),
      relayChannels: fc.nat(4),
      deviceId: fc.nat(0xffffffff),
      bootId: fc.nat(0xffffffff),
      uptimeMs: fc.maxSafeNat(),
    }),
    fc.record({ kind: fc.constant("ping" as const), nonce: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({
      kind: fc.constant("pong" as const),
      uptimeMs: fc.maxSafeNat(),
      nonce: fc.uint8Array({ maxLength: 16 }),
    }),
    fc.record({ kind: fc.constant("ack" as const), ackedType: fc.nat(255) }),
    fc.record({ kind: fc.constant("nack" as const), rejectedType: fc.nat(255), code: fc.nat(255) }),
    fc.record({ kind: fc.constant("pulseGet" as const), channel: fc.nat(255) }),
    fc.record({
      kind: fc.constant("pulseCount" as const),
      channel: fc.nat(255),
      count: fc.nat(0xffffffff),
      pulsesPerKwh: fc.integer({ min: 1, max: 0xffffffff }),
      bootId: fc.nat(0xffffffff),
      uptimeMs: fc.maxSafeNat(),
      lastPulseMs: fc.maxSafeNat(),
    }),
    fc.record({
      kind: fc.constant("pulseConfig" as const),
      channel: fc.nat(255),
      pulsesPerKwh: fc.nat(0xffffffff),
      debounceMs: fc.nat(0xffff),
    }),
    fc.record({ kind: fc.constant("relaySet" as const), channel: fc.nat(255), on: fc.boolean() }),
    fc.record({ kind: fc.constant("relayGet" as const), channel: fc.nat(255) }),
    fc.record({
      kind: fc.constant("relayState" as const),
      channel: fc.nat(255),
      on: fc.boolean(),
      feedback: fc.option(fc.boolean(), { nil: null }),
    }),
    fc.record({
      kind: fc.constant("fault" as const),
      code: fc.nat(255),
      channel: fc.nat(255),
      detail: fc.nat(0xffffffff),
    }),
    // fast-check builds records without a prototype; the decoder returns ordinary objects.
  )
  .map((m) => structuredClone(m));
