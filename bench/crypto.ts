/**
 * Sign and verify operations per second for each ed25519 implementation on the same messages, one core.
 * Prints one JSON object. Run: node dist/bench/crypto.js [--seconds 1]
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { type Ed25519, NobleEd25519, NodeEd25519, TweetnaclEd25519 } from "../protocol/crypto/index.js";

function rate(seconds: number, op: (i: number) => void): number {
  // Warm up so that the JIT and key caches are settled before timing.
  for (let i = 0; i < 50; i++) op(i);
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let n = 0;
  while (process.hrtime.bigint() - start < budget) {
    for (let k = 0; k < 20; k++) op(n++);
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

export function measureVerifyRate(impl: Ed25519 = new NodeEd25519(), seconds = 1): number {
  const seed = new Uint8Array(randomBytes(32));
  const msgs = Array.from({ length: 64 }, () => new Uint8Array(randomBytes(200)));
  const pub = impl.publicKey(seed);
  const sigs = msgs.map((m) => impl.sign(m, seed));
  return rate(seconds, (i) => {
    if (!impl.verify(sigs[i % 64], msgs[i % 64], pub)) throw new Error("verify failed");
  });
}

export async function run(seconds = 1): Promise<Record<string, unknown>> {
  const seed = new Uint8Array(randomBytes(32));
  const msgs = Array.from({ length: 64 }, () => new Uint8Array(randomBytes(200)));
  const impls: Ed25519[] = [new NodeEd25519(), new NobleEd25519(), new TweetnaclEd25519()];
  const results: Record<string, { signPerSec: number; verifyPerSec: number }> = {};
  for (const impl of impls) {
    const pub = impl.publicKey(seed);
    const sigs = msgs.map((m) => impl.sign(m, seed));
    const signPerSec = rate(seconds, (i) => impl.sign(msgs[i % 64], seed));
    const verifyPerSec = rate(seconds, (i) => {
      if (!impl.verify(sigs[i % 64], msgs[i % 64], pub)) throw new Error(`${impl.name} verify failed`);
    });
    results[impl.name] = { signPerSec: Math.round(signPerSec), verifyPerSec: Math.round(verifyPerSec) };
  }
  const node = results["node:crypto"];
  return {
    bench: "crypto",
    messageBytes: 200,
    secondsPerMeasurement: seconds,
    results,
    verifySpeedupOverNoble: round(node.verifyPerSec / results["@noble/ed25519"].verifyPerSec),
    verifySpeedupOverTweetnacl: round(node.verifyPerSec / results.tweetnacl.verifyPerSec),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--seconds");
  const seconds = i > 0 ? Number(process.argv[i + 1]) : 1;
  console.log(JSON.stringify(await run(seconds)));
}
