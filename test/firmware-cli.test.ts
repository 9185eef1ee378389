/**
 * `firmware probe` and `firmware relay` as a user runs them, in their own process, against the C host
 * firmware on a pty pair; the command module is loaded through yargs as cli/main.ts would.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  buildHostFirmware,
  type FirmwareProcess,
  type PtyPair,
  ptyPair,
  repoRoot,
  startFirmware,
  tempDir,
} from "../firmware-bridge/testing/harness.js";

const run = promisify(execFile);
const cliModule = join(repoRoot, "dist", "firmware-bridge", "cli.js");
const script = `import yargs from "yargs";
const { firmwareCommand } = await import(${JSON.stringify(cliModule)});
await yargs(process.argv.slice(1)).command(firmwareCommand).strict().fail((m, e) => { throw e ?? new Error(m); }).parseAsync();`;

function gridletFirmware(args: string[]) {
  return run(process.execPath, ["--input-type=module", "-e", script, "firmware", ...args], {
    cwd: repoRoot,
    env: { ...process.env, GRIDLET_LOG_LEVEL: "silent" },
    timeout: 30_000,
  });
}

describe("gridlet firmware", () => {
  const dir = tempDir("gridlet-fw-cli-");
  let pty: PtyPair;
  let fw: FirmwareProcess;

  before(async () => {
    pty = await ptyPair(dir);
    fw = await startFirmware(buildHostFirmware(dir), pty.a, ["--pulse-hz", "10", "--device-id", "4242"]);
  });
  after(async () => {
    await fw?.stop();
    await pty?.stop();
  });

  it("probe prints the HELLO, every channel's count and every relay's state as JSON", async () => {
    const { stdout } = await gridletFirmware(["probe", "--port", pty.b]);
    const r = JSON.parse(stdout);
    assert.equal(r.hello.deviceId, 4242);
    assert.equal(r.hello.bootId, fw.bootId);
    assert.deepEqual(
      r.pulses.map((p: { channel: number }) => p.channel),
      [0, 1],
    );
    assert.ok(r.pulses[0].count > 0);
    assert.deepEqual(r.relays, [{ channel: 0, on: false, feedback: false }]);
  });

  it("relay switches and confirms, and the state holds for the next probe", async () => {
    const { stdout } = await gridletFirmware(["relay", "--port", pty.b, "--channel", "0", "--on"]);
    assert.deepEqual(JSON.parse(stdout), { channel: 0, on: true, feedback: true });
    const probe = JSON.parse((await gridletFirmware(["probe", "--port", pty.b])).stdout);
    assert.equal(probe.relays[0].on, true);
  });

  it("fails with a named reason when the relay state is missing or the channel does not exist", async () => {
    await assert.rejects(gridletFirmware(["relay", "--port", pty.b]), /relay needs --on or --no-on/);
    await assert.rejects(
      gridletFirmware(["relay", "--port", pty.b, "--channel", "3", "--on"]),
      /BAD_CHANNEL/,
    );
  });
});
