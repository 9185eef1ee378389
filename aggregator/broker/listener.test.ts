import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type AddressInfo, type Socket, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { tempDir } from "../../bench/harness/tmp.js";
import { TlsCa } from "../../protocol/x509/tls-ca.js";
import { type BrokerListener, createListener, type ListenerTls, type TlsRefusal } from "./listener.js";

/** Resolves when the server side has closed `s` (or it errored). */
const closed = (s: Socket) => new Promise<void>((r) => s.once("close", () => r()));

describe("the broker's TLS listener", () => {
  const tmp = tempDir();
  let material: ListenerTls;
  let caPem: Buffer;
  before(async () => {
    const ca = new TlsCa(join(tmp.dir, "ca"));
    await ca.init("test-ca", 2);
    const s = await ca.issueServer({ name: "agg-1", hosts: ["127.0.0.1"] });
    material = { cert: readFileSync(s.certPath), key: readFileSync(s.keyPath) };
    caPem = readFileSync(ca.certPath);
  });
  after(() => tmp.cleanup());

  async function listen(
    limits: { maxHandshakes: number; handshakeTimeoutMs: number },
    refusals: TlsRefusal[],
  ): Promise<{ server: BrokerListener; port: number }> {
    const server = createListener(
      material,
      limits,
      (s) => s.pipe(s), // an echo, in place of the broker
      (r) => refusals.push(r),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { server, port: (server.address() as AddressInfo).port };
  }

  it("hands over only sockets whose handshake succeeded, decrypted", async () => {
    const refusals: TlsRefusal[] = [];
    const { server, port } = await listen({ maxHandshakes: 4, handshakeTimeoutMs: 5000 }, refusals);
    const c = tlsConnect({ host: "127.0.0.1", port, ca: caPem });
    await new Promise<void>((r) => c.once("secureConnect", () => r()));
    c.write("ping");
    const echoed = await new Promise<string>((r) => c.once("data", (d: Buffer) => r(d.toString())));
    assert.equal(echoed, "ping");
    c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    assert.deepEqual(refusals, []);
  });

  it("caps handshakes in progress, times them out, and drops them at stop", async () => {
    const refusals: TlsRefusal[] = [];
    const { server, port } = await listen({ maxHandshakes: 2, handshakeTimeoutMs: 400 }, refusals);
    // connections that open and say nothing: a slow-loris before the handshake
    const silent = [tcpConnect(port, "127.0.0.1"), tcpConnect(port, "127.0.0.1")];
    for (const s of silent) s.on("error", () => undefined);
    await Promise.all(silent.map((s) => new Promise<void>((r) => s.once("connect", () => r()))));
    await new Promise((r) => setTimeout(r, 50));
    const third = tcpConnect(port, "127.0.0.1");
    third.on("error", () => undefined);
    await closed(third);
    assert.deepEqual(
      refusals.map((r) => r.code),
      ["TOO_MANY_HANDSHAKES"],
    );
    await Promise.all(silent.map(closed));
    assert.deepEqual(
      refusals.slice(1).map((r) => `${r.code} ${r.reason}`),
      ["TLS_HANDSHAKE TIMEOUT", "TLS_HANDSHAKE TIMEOUT"],
    );
    // at stop, a connection still in its handshake does not hold the process
    const pending = tcpConnect(port, "127.0.0.1");
    pending.on("error", () => undefined);
    await new Promise<void>((r) => pending.once("connect", () => r()));
    await new Promise((r) => setTimeout(r, 50));
    const stopped = new Promise<void>((r) => server.close(() => r()));
    server.dropHandshakes();
    await closed(pending);
    await stopped;
  });
});
