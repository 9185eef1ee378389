import { existsSync, readFileSync } from "node:fs";
import mqtt from "#mqtt";
import { fromHex } from "../../protocol/bytes.js";
import type { CaDirectory } from "../../protocol/ca-dir.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { readKeyFile } from "../../protocol/keyfile.js";
import { loginToken } from "../../protocol/login.js";
import { plainRemoteHost, tlsCaPaths } from "../../protocol/tls.js";
import { topics } from "../../protocol/topics.js";
import { UsageError } from "../exit.js";

export interface BrokerTarget {
  id: string;
  url: string;
}

/** `ID=URL` options, or the members of a CA-signed consortium file. */
export async function publishTargets(to: string[], consortiumPath: string | undefined, ca: CaDirectory) {
  const targets: BrokerTarget[] = to.map((t) => {
    const i = t.indexOf("=");
    if (i < 1) throw new UsageError("USAGE", `--to ${t}: expected AGGREGATOR_ID=BROKER_URL`);
    const url = t.slice(i + 1);
    if (plainRemoteHost(url) !== undefined)
      throw new UsageError("USAGE", `--to ${t}: plain MQTT to another machine; use mqtts://`);
    return { id: t.slice(0, i), url };
  });
  if (consortiumPath !== undefined) {
    const { loadConsortiumFile } = await import("../../aggregator/consensus/consortium.js");
    const c = loadConsortiumFile(consortiumPath, fromHex(ca.caCertificate().publicKey)!, defaultEd25519);
    for (const m of c.members) targets.push({ id: m.id, url: m.broker });
  }
  if (targets.length === 0)
    throw new UsageError("USAGE", "name the brokers: --to ID=URL or --consortium FILE");
  return targets;
}

/**
 * Hands the CA's current revocation list to aggregators' brokers, retained on its topic: the CA logs
 * in with a token its own key signs (docs/SECURITY.md, "Revocation"). Each aggregator that installs
 * the list cuts the revoked identities' connections and passes the list on to its peers.
 */
export async function publishRevocations(
  ca: CaDirectory,
  targets: BrokerTarget[],
  timeoutMs = 10_000,
): Promise<{ id: string; error?: string }[]> {
  const cert = ca.caCertificate();
  const key = readKeyFile(ca.keyPath);
  const payload = JSON.stringify(ca.revocations());
  let seq = Date.now() * 1000;
  // mqtts:// brokers are checked against the consortium's TLS CA, kept in the same CA directory
  const tlsCa = tlsCaPaths(ca.dir).cert;
  const tls = existsSync(tlsCa) ? { ca: readFileSync(tlsCa) } : {};
  return Promise.all(
    targets.map(async (t) => {
      const clientId = `${cert.id}/revocations`;
      const client = mqtt.connect(t.url, {
        clientId,
        clean: true,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: timeoutMs,
        username: cert.id,
        password: loginToken(key, cert, { clientId, audience: t.id, seq: seq++, now: Date.now() }),
        ...tls,
      });
      try {
        await new Promise<void>((resolve, reject) => {
          client.once("connect", () => resolve());
          client.once("error", reject);
          client.once("close", () => reject(new Error("connection closed")));
        });
        await client.publishAsync(topics.revocations(), payload, { qos: 1, retain: true });
        return { id: t.id };
      } catch (e) {
        return { id: t.id, error: (e as Error).message };
      } finally {
        await client.endAsync(true);
      }
    }),
  );
}
