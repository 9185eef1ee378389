/**
 * Checks docs/PROTOCOL.md: a verifier written from the document alone, with @noble/ed25519 called directly
 * and a canonical JSON writer of its own (sorted keys, no spaces), accepts what gridlet produces.
 * It deliberately imports nothing from protocol/ except to produce the envelope under test.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as ed from "@noble/ed25519";
import { signEnvelope } from "../protocol/envelope.js";
import { readKeyFile } from "../protocol/keyfile.js";

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

function jcs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function verifyPerDocument(domain: string, signed: Record<string, unknown>, publicKeyHex: string): boolean {
  const { sig, ...rest } = signed;
  const bytes = new TextEncoder().encode(`${domain}\n${jcs(rest)}`);
  return ed.verify(Buffer.from(String(sig), "hex"), bytes, Buffer.from(publicKeyHex, "hex"));
}

const cli = join(process.cwd(), "dist", "cli", "main.js");

describe("independent verification following docs/PROTOCOL.md", () => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-indep-"));
  const caDir = join(dir, "ca");
  execFileSync(process.execPath, [cli, "ca", "init", "--dir", caDir]);
  execFileSync(process.execPath, [
    cli,
    "ca",
    "issue",
    "--dir",
    caDir,
    "--role",
    "agent",
    "--id",
    "agent-7",
    "--home",
    "agg-1",
  ]);
  const caCert = JSON.parse(readFileSync(join(caDir, "ca.cert.json"), "utf8"));
  const cert = JSON.parse(readFileSync(join(caDir, "identities", "agent-7.cert.json"), "utf8"));

  it("verifies the CA's self-signed certificate and an issued certificate", () => {
    assert.equal(verifyPerDocument("gridlet/certificate/v1", caCert, caCert.publicKey), true);
    assert.equal(verifyPerDocument("gridlet/certificate/v1", cert, caCert.publicKey), true);
    assert.equal(
      verifyPerDocument("gridlet/certificate/v1", { ...cert, home: "agg-2" }, caCert.publicKey),
      false,
    );
    assert.equal(
      verifyPerDocument("gridlet/envelope/v1", cert, caCert.publicKey),
      false,
      "domain separation",
    );
  });

  it("verifies the revocation list after a revocation", () => {
    execFileSync(process.execPath, [
      cli,
      "ca",
      "revoke",
      "--dir",
      caDir,
      "--id",
      "agent-7",
      "--reason",
      "test",
    ]);
    const crl = JSON.parse(readFileSync(join(caDir, "revocations.json"), "utf8"));
    assert.equal(crl.version, 2);
    assert.equal(verifyPerDocument("gridlet/revocations/v1", crl, caCert.publicKey), true);
  });

  it("verifies an envelope signed with an issued key, with nested and unicode bodies", () => {
    const key = readKeyFile(join(caDir, "identities", "agent-7.key"));
    const e = signEnvelope(
      {
        type: "order",
        from: "agent-7",
        seq: 3,
        ts: 1_767_225_600_123,
        body: { z: [1, { b: "é€", a: null }], a: true },
      },
      key.seed,
    );
    const wire = JSON.parse(JSON.stringify(e));
    assert.equal(verifyPerDocument("gridlet/envelope/v1", wire, cert.publicKey), true);
    assert.equal(verifyPerDocument("gridlet/envelope/v1", { ...wire, seq: 4 }, cert.publicKey), false);
  });
});
