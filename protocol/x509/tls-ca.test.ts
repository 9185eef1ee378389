import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as tls from "node:tls";
import { tempDir } from "../../bench/harness/tmp.js";
import { isCaError } from "../ca-dir.js";
import { TlsCa } from "./tls-ca.js";

/** A TLS server with `server`'s certificate; resolves what a client connecting with `client` saw. */
async function handshake(
  server: { cert: string; key: string; clientCa?: string },
  client: { ca: string; cert?: string; key?: string; host?: string },
): Promise<{ ok: true; serverSawAuthorized: boolean } | { ok: false; code: string }> {
  let serverSawAuthorized = false;
  const srv = tls.createServer(
    {
      cert: readFileSync(server.cert),
      key: readFileSync(server.key),
      ...(server.clientCa === undefined
        ? {}
        : { ca: readFileSync(server.clientCa), requestCert: true, rejectUnauthorized: true }),
    },
    (s) => {
      serverSawAuthorized = s.authorized;
      s.end("hello");
    },
  );
  srv.on("tlsClientError", () => undefined);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      const c = tls.connect({
        host: "127.0.0.1",
        port,
        ca: readFileSync(client.ca),
        ...(client.cert === undefined
          ? {}
          : { cert: readFileSync(client.cert), key: readFileSync(client.key!) }),
        ...(client.host === undefined
          ? {}
          : { checkServerIdentity: (_h, cert) => tls.checkServerIdentity(client.host!, cert) }),
      });
      let data = "";
      c.on("data", (d: Buffer) => {
        data += d.toString();
      });
      c.on("end", () =>
        resolve(data === "hello" ? { ok: true, serverSawAuthorized } : { ok: false, code: "NO_DATA" }),
      );
      c.on("error", (e: NodeJS.ErrnoException) => resolve({ ok: false, code: String(e.code ?? e.message) }));
    });
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

describe("TLS CA (@peculiar/x509, ECDSA P-256)", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const ca = new TlsCa(join(tmp.dir, "ca"));
  const other = new TlsCa(join(tmp.dir, "other-ca"));

  it("creates a CA certificate and a private key only its owner reads, once", async () => {
    await assert.rejects(ca.issueServer({ name: "agg-1", hosts: ["127.0.0.1"] }), (e) =>
      isCaError(e, "CA_MISSING"),
    );
    await ca.init("test-ca", 30);
    await other.init("other-ca", 30);
    assert.equal(statSync(ca.keyPath).mode & 0o777, 0o600);
    const cert = new X509Certificate(readFileSync(ca.certPath));
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=test-ca TLS");
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    await assert.rejects(ca.init("test-ca"), (e) => isCaError(e, "CA_EXISTS"));
  });

  it("issues a server certificate with DNS and IP subjectAltNames that a TLS client accepts", async () => {
    const s = await ca.issueServer({
      name: "agg-1",
      hosts: ["127.0.0.1", "localhost", "::1", "Broker.Example.org"],
    });
    assert.deepEqual(s.altNames, ["IP:127.0.0.1", "DNS:localhost", "IP:::1", "DNS:broker.example.org"]);
    assert.equal(statSync(s.keyPath).mode & 0o777, 0o600);
    const cert = new X509Certificate(readFileSync(s.certPath));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkHost("other.example.org"), undefined);
    assert.ok(cert.checkIssued(new X509Certificate(readFileSync(ca.certPath))));
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.deepEqual(await handshake({ cert: s.certPath, key: s.keyPath }, { ca: ca.certPath }), {
      ok: true,
      serverSawAuthorized: false,
    });
  });

  it("a client refuses a server certificate from another CA, or for another name", async () => {
    const s = await other.issueServer({ name: "agg-1", hosts: ["127.0.0.1"] });
    const r = await handshake({ cert: s.certPath, key: s.keyPath }, { ca: ca.certPath });
    assert.deepEqual(r, { ok: false, code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    const good = { cert: join(ca.dir, "agg-1.server.crt"), key: join(ca.dir, "agg-1.server.key") };
    const wrongName = await handshake(good, { ca: ca.certPath, host: "evil.example.org" });
    assert.deepEqual(wrongName, { ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  it("issues client certificates (CN = identity) that a server requiring them accepts from this CA only", async () => {
    const mine = await ca.issueClient({ id: "agent-07" });
    const cert = new X509Certificate(readFileSync(mine.certPath));
    assert.equal(cert.subject, "CN=agent-07");
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
    const server = {
      cert: join(ca.dir, "agg-1.server.crt"),
      key: join(ca.dir, "agg-1.server.key"),
      clientCa: ca.certPath,
    };
    const client = { ca: ca.certPath, cert: mine.certPath, key: mine.keyPath };
    assert.deepEqual(await handshake(server, client), { ok: true, serverSawAuthorized: true });
    const foreign = await other.issueClient({ id: "agent-07" });
    const r = await handshake(server, { ca: ca.certPath, cert: foreign.certPath, key: foreign.keyPath });
    assert.equal(r.ok, false, "a certificate from another CA is refused");
  });

  it("refuses to overwrite without force, bad host names, and a certificate outliving the CA", async () => {
    await assert.rejects(ca.issueClient({ id: "agent-07" }), (e) => isCaError(e, "ALREADY_ISSUED"));
    const before = readFileSync(join(ca.dir, "agent-07.client.crt"), "utf8");
    await ca.issueClient({ id: "agent-07", force: true });
    assert.notEqual(readFileSync(join(ca.dir, "agent-07.client.crt"), "utf8"), before);
    for (const host of ["", "bad host", "a..b", "-x.example", "x_y"])
      await assert.rejects(
        ca.issueServer({ name: "agg-2", hosts: [host] }),
        (e) => isCaError(e, "BAD_REQUEST"),
        host,
      );
    await assert.rejects(ca.issueServer({ name: "agg-2", hosts: [] }), (e) => isCaError(e, "BAD_REQUEST"));
    await assert.rejects(
      ca.issueServer({ name: "agg-2", hosts: ["127.0.0.1"], validDays: 60 }),
      (e) => isCaError(e, "BAD_REQUEST") && /outlive/.test((e as Error).message),
    );
  });
});
