import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLoopbackHost, isTlsRefusal, plainRemoteHost } from "./tls.js";

describe("what may stay plain MQTT", () => {
  it("loopback names and addresses only", () => {
    for (const h of ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.10",
      "gateway.lan",
      "localhost.evil.org",
      "128.0.0.1",
    ])
      assert.equal(isLoopbackHost(h), false, h);
  });

  it("tells a refused certificate from an unreachable broker", () => {
    const e = (code: unknown) => Object.assign(new Error("x"), { code });
    for (const code of [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "SELF_SIGNED_CERT_IN_CHAIN",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "CERT_HAS_EXPIRED",
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
    ])
      assert.equal(isTlsRefusal(e(code)), true, code);
    for (const code of ["ECONNREFUSED", "ECONNRESET", 5, undefined])
      assert.equal(isTlsRefusal(e(code)), false, String(code));
  });

  it("a plain scheme to another machine is named; TLS schemes and loopback are not", () => {
    assert.equal(plainRemoteHost("mqtt://10.0.0.5:1883"), "10.0.0.5");
    assert.equal(plainRemoteHost("tcp://gateway.lan:1883"), "gateway.lan");
    assert.equal(plainRemoteHost("ws://gateway.lan:9001/mqtt"), "gateway.lan");
    assert.equal(plainRemoteHost("mqtt://[fd00::1]:1883"), "[fd00::1]");
    for (const url of [
      "mqtts://10.0.0.5:8883",
      "wss://gateway.lan/mqtt",
      "mqtt://127.0.0.1:1883",
      "mqtt://[::1]:1883",
    ])
      assert.equal(plainRemoteHost(url), undefined, url);
  });
});
