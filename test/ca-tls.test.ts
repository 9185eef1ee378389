import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../bench/harness/tmp.js";
import { gridlet } from "./helpers/cli.js";

describe("gridlet ca: TLS certificates without openssl", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const dir = join(tmp.dir, "ca");
  const tls = (f: string) => join(dir, "tls", f);

  it("ca init makes the X.509 CA beside the ed25519 one", () => {
    const r = gridlet(["ca", "init", "--dir", dir, "--id", "test-ca"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dir, "ca.cert.json")));
    const ca = new X509Certificate(readFileSync(tls("ca.crt")));
    assert.equal(ca.ca, true);
    assert.equal(statSync(tls("ca.key")).mode & 0o777, 0o600);
    assert.match(r.stdout, /TLS CA: .*tls\/ca\.crt/);
  });

  it("tls-server issues a certificate for the hosts given, checked against the CA", () => {
    const r = gridlet([
      "ca",
      "tls-server",
      "--dir",
      dir,
      "--name",
      "agg-1",
      "--host",
      "127.0.0.1",
      "--host",
      "localhost",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const cert = new X509Certificate(readFileSync(tls("agg-1.server.crt")));
    assert.ok(cert.checkIssued(new X509Certificate(readFileSync(tls("ca.crt")))));
    assert.ok(cert.verify(new X509Certificate(readFileSync(tls("ca.crt"))).publicKey));
    assert.equal(cert.subjectAltName, "IP Address:127.0.0.1, DNS:localhost");
    const again = gridlet(["ca", "tls-server", "--dir", dir, "--name", "agg-1", "--host", "127.0.0.1"]);
    assert.notEqual(again.status, 0, "an issued certificate is not replaced without --force");
    assert.match(again.stderr, /--force/);
  });

  it("tls-client is for identities the CA issued; its CN is the identity", () => {
    const unknown = gridlet(["ca", "tls-client", "--dir", dir, "--id", "agent-7"]);
    assert.equal(unknown.status, 2, "an identity this CA never issued is a wrong argument");
    assert.match(unknown.stderr, /NOT_ISSUED: no identity "agent-7"/);
    assert.equal(
      gridlet(["ca", "issue", "--dir", dir, "--role", "agent", "--id", "agent-7", "--home", "agg-1"]).status,
      0,
    );
    const r = gridlet(["ca", "tls-client", "--dir", dir, "--id", "agent-7", "--days", "30"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(new X509Certificate(readFileSync(tls("agent-7.client.crt"))).subject, "CN=agent-7");
  });

  it("bad hosts and days are usage errors (exit 2)", () => {
    for (const args of [
      ["--name", "agg-2", "--host", "not a host"],
      ["--name", "agg-2", "--host", "127.0.0.1", "--days", "0"],
      ["--name", "agg-2"],
    ]) {
      const r = gridlet(["ca", "tls-server", "--dir", dir, ...args]);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    }
  });

  it("tls-init adds the TLS CA to a CA directory made without it", () => {
    const old = join(tmp.dir, "old");
    assert.equal(gridlet(["ca", "init", "--dir", old]).status, 0);
    // a directory from before TLS: only the ed25519 CA
    rmSync(join(old, "tls"), { recursive: true });
    const r = gridlet(["ca", "tls-init", "--dir", old]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(old, "tls", "ca.crt")));
    assert.notEqual(gridlet(["ca", "tls-init", "--dir", old]).status, 0, "never over an existing TLS CA");
  });
});
