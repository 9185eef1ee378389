import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";

/** A process that stops on its first signal and takes 400 ms to do so, as an agent or aggregator does. */
const CHILD = `
import { untilSignal } from ${JSON.stringify(new URL("./signals.js", import.meta.url).href)};
const work = setInterval(() => {}, 1000); // what keeps a running agent alive: its sockets and timers
const signalled = untilSignal((again) => process.stdout.write("again " + again + "\\n"));
process.stdout.write("ready\\n");
const sig = await signalled;
process.stdout.write("stopping on " + sig + "\\n");
setTimeout(() => {
  clearInterval(work);
  process.stdout.write("stopped\\n");
}, 400);
`;

test("a second SIGTERM or a SIGINT while the process stops is reported, and the stop completes with exit 0", async () => {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise<[number | null, string | null]>((r) => child.once("exit", (c, s) => r([c, s])));
  const until = async (what: RegExp) => {
    for (let i = 0; i < 400 && !what.test(out); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(out, what);
  };
  await until(/ready/);
  child.kill("SIGTERM");
  await until(/stopping on SIGTERM/);
  child.kill("SIGTERM");
  await until(/again SIGTERM/);
  child.kill("SIGINT");
  await until(/again SIGINT/);
  const [code, signal] = await exited;
  assert.deepEqual([code, signal], [0, null], out);
  assert.match(out, /stopped\n$/);
});
