import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../bench/harness/tmp.js";
import { CaDirectory, CaError } from "./ca-dir.js";
import { EnvelopeVerifier, signEnvelope } from "./envelope.js";
import { isProtocolError } from "./errors.js";
import { signCertificate, TrustStore, verifyCertificate } from "./identity.js";
import { readKeyFile } from "./keyfile.js";

const DAY = 86_400_000;

const tmp = tempDir("gridlet-ca-");
after(tmp.cleanup);

function freshCa(now = () => 1_767_225_600_000) {
  const dir = mkdtempSync(join(tmp.dir, "ca-"));
  const ca = new CaDirectory(join(dir, "ca"), { now });
  ca.init("test-ca");
  return { ca, out: join(dir, "ids") };
}

describe("identities", () => {
  it("issues agents with home aggregator and wallets, and their certificates verify", () => {
    const { ca, out } = freshCa();
    const agg = ca.issue({ role: "aggregator", id: "agg-1" }, out);
    const agent = ca.issue({ role: "agent", id: "agent-1", home: "agg-1", wallets: 3 }, out);
    assert.equal(agent.cert.home, "agg-1");
    assert.equal(agent.cert.wallets?.length, 3);
    assert.equal(new Set(agent.cert.wallets).size, 3);
    assert.equal(agg.cert.wallets, undefined);
    verifyCertificate(agent.cert, ca.caCertificate(), 1_767_225_600_000, ca.revocations());
    assert.equal(ca.issued().length, 2);
  });

  it("writes key files 0600 and refuses one that group or others can read", () => {
    const { ca, out } = freshCa();
    const { keyPath } = ca.issue({ role: "aggregator", id: "agg-1" }, out);
    assert.equal(readKeyFile(keyPath).id, "agg-1");
    chmodSync(keyPath, 0o640);
    assert.throws(
      () => readKeyFile(keyPath),
      (e: unknown) => {
        assert.ok(isProtocolError(e, "KEY_FILE_PERMISSIONS"));
        assert.match(e.message, /chmod 600/);
        return true;
      },
    );
    const junk = join(out, "junk.key");
    writeFileSync(junk, "{", { mode: 0o600 });
    assert.throws(
      () => readKeyFile(junk),
      (e: unknown) => isProtocolError(e, "KEY_FILE_INVALID"),
    );
  });

  it("a revoked certificate fails verification, and the trust store flags its sender", () => {
    let now = 1_767_225_600_000;
    const { ca, out } = freshCa(() => now);
    const agent = ca.issue({ role: "agent", id: "agent-1", home: "agg-1" }, out);
    const store = new TrustStore(ca.caCertificate(), { now: () => now, revocations: ca.revocations() });
    store.add(agent.cert);
    assert.equal(store.lookup("agent-1")?.revoked, false);
    now += 1000;
    const list = ca.revoke("agent-1", "key leaked");
    assert.equal(list.version, 2);
    assert.throws(
      () => verifyCertificate(agent.cert, ca.caCertificate(), now, list),
      (e: unknown) => isProtocolError(e, "REVOKED_SENDER"),
    );
    assert.equal(store.setRevocations(list), true);
    assert.equal(store.setRevocations(list), false, "same version is not newer");
    assert.equal(store.lookup("agent-1")?.revoked, true);
    const verifier = new EnvelopeVerifier({ directory: store, now: () => now });
    const e = signEnvelope({ type: "reading", from: "agent-1", seq: 1, ts: now, body: {} }, agent.key.seed);
    assert.throws(
      () => verifier.verify(e),
      (err: unknown) => isProtocolError(err, "REVOKED_SENDER"),
    );
    assert.throws(
      () => ca.revoke("agent-1", "again"),
      (err: unknown) => err instanceof CaError && err.code === "ALREADY_REVOKED",
    );
  });

  it("rejects expired, not-yet-valid, foreign and tampered certificates with their own codes", () => {
    const now = 1_767_225_600_000;
    const { ca, out } = freshCa(() => now);
    const { cert } = ca.issue({ role: "aggregator", id: "agg-1", validDays: 1 }, out);
    const caCert = ca.caCertificate();
    assert.throws(
      () => verifyCertificate(cert, caCert, now + 2 * DAY),
      (e: unknown) => isProtocolError(e, "CERT_EXPIRED"),
    );
    assert.throws(
      () => verifyCertificate(cert, caCert, now - 1),
      (e: unknown) => isProtocolError(e, "CERT_NOT_YET_VALID"),
    );
    assert.throws(
      () => verifyCertificate({ ...cert, role: "agent" }, caCert, now),
      (e: unknown) => isProtocolError(e, "CERT_INVALID"),
    );
    const other = freshCa(() => now);
    assert.throws(
      () => verifyCertificate(cert, other.ca.caCertificate(), now),
      (e: unknown) => isProtocolError(e, "CERT_INVALID"),
    );
    // A certificate signed by a key that is not the CA's, though it names the CA as issuer.
    const forged = signCertificate({ ...cert, serial: "f" }, readKeyFile(join(out, "agg-1.key")).seed);
    assert.throws(
      () => verifyCertificate(forged, caCert, now),
      (e: unknown) => isProtocolError(e, "CERT_INVALID"),
    );
  });

  it("refuses bad requests: agent without home, wallets on an aggregator, bad ids, re-issue", () => {
    const { ca, out } = freshCa();
    const code = (fn: () => unknown, c: string) =>
      assert.throws(
        fn,
        (e: unknown) => (e instanceof CaError && e.code === c) || isProtocolError(e, "CERT_INVALID"),
      );
    code(() => ca.issue({ role: "agent", id: "a" }, out), "BAD_REQUEST");
    code(() => ca.issue({ role: "aggregator", id: "g", wallets: 2 }, out), "BAD_REQUEST");
    code(() => ca.issue({ role: "aggregator", id: "../etc" }, out), "CERT_INVALID");
    ca.issue({ role: "aggregator", id: "g" }, out);
    code(() => ca.issue({ role: "aggregator", id: "g" }, out), "ALREADY_ISSUED");
  });
});
