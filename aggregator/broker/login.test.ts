import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { makePki, type TestPki } from "../../bench/harness/pki.js";
import { tempDir } from "../../bench/harness/tmp.js";
import { isGridletError } from "../../protocol/errors.js";
import { TrustStore } from "../../protocol/identity.js";
import { loginToken } from "../../protocol/login.js";
import { LoginVerifier } from "./login.js";

describe("login tokens from arbitrary input", () => {
  const tmp = tempDir();
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  it("any bytes as a password give a typed refusal, never a crash or an acceptance", () => {
    const v = new LoginVerifier(new TrustStore(pki.ca.caCertificate(), { now: Date.now }), {
      audience: "agg-1",
      now: Date.now,
    });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.string({ maxLength: 70 }), (bytes, user) => {
        assert.throws(
          () => v.verify(user, Buffer.from(bytes), user),
          (e) => isGridletError(e),
        );
      }),
      { numRuns: 500 },
    );
  });

  it("a real token with any one character changed is refused with a typed error", () => {
    const a = pki.agents[0];
    const token = loginToken(a.key, a.cert, { clientId: a.id, audience: "agg-1", seq: 1, now: Date.now() });
    const v = new LoginVerifier(new TrustStore(pki.ca.caCertificate(), { now: Date.now }), {
      audience: "agg-1",
      now: Date.now,
    });
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 32, max: 126 }), (i, code) => {
        const ch = String.fromCharCode(code);
        fc.pre(token[i] !== ch);
        const forged = token.slice(0, i) + ch + token.slice(i + 1);
        try {
          v.verify(a.id, Buffer.from(forged), a.id);
        } catch (e) {
          assert.ok(isGridletError(e), String(e));
          return;
        }
        // Only changes that leave the signed content equal (JSON whitespace, key order) may pass.
        assert.deepEqual(JSON.parse(forged), JSON.parse(token));
      }),
      { numRuns: 300 },
    );
  });
});
