/**
 * Firmware-bridge codec and link figures: how many frames per second the TypeScript stream decoder and
 * encoder handle, against the frames per second a 115200-baud 8N1 UART can carry at all (the limit), and
 * the request round trip to the C host firmware over a real pty pair. Prints one JSON object.
 * Run: node dist/bench/firmware-bridge.js [--seconds 1]
 */
import { pathToFileURL } from "node:url";
import { FirmwareBridge } from "../firmware-bridge/bridge.js";
import { encodeFrame } from "../firmware-bridge/codec/frame.js";
import { fromFrame, type Message, toFrame } from "../firmware-bridge/codec/messages.js";
import { FrameDecoder } from "../firmware-bridge/codec/stream.js";
import { buildHostFirmware, ptyPair, startFirmware, tempDir } from "../firmware-bridge/testing/harness.js";
import { serialOpener } from "../firmware-bridge/transport/port.js";
import { silentLogger } from "../protocol/log.js";

const BAUD = 115200;
/** 8N1: ten bit times per byte */
const LINE_BYTES_PER_SEC = BAUD / 10;

const sample: Message = {
  kind: "pulseCount",
  channel: 0,
  count: 123456,
  pulsesPerKwh: 1000,
  bootId: 0xa1b2c3d4,
  uptimeMs: 86_400_000,
  lastPulseMs: 86_399_950,
};

function timed(seconds: number, op: () => number): { perSec: number; units: number } {
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let units = 0;
  while (process.hrtime.bigint() - start < budget) units += op();
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { perSec: units / elapsed, units };
}

function codecFigures(seconds: number) {
  const wire = encodeFrame(toFrame(sample, 1));
  const batch = new Uint8Array(wire.length * 256);
  for (let i = 0; i < 256; i++) batch.set(wire, i * wire.length);
  const decoder = new FrameDecoder();
  const decode = timed(seconds, () => {
    let n = 0;
    for (const item of decoder.push(batch))
      if (item.ok && fromFrame(item.frame).msg.kind === "pulseCount") n++;
    return n;
  });
  let seq = 0;
  const encode = timed(seconds, () => {
    for (let i = 0; i < 256; i++) encodeFrame(toFrame(sample, seq++));
    return 256;
  });
  const lineFramesPerSec = LINE_BYTES_PER_SEC / wire.length;
  return { frameBytes: wire.length, lineFramesPerSec, decode: decode.perSec, encode: encode.perSec };
}

async function linkFigures(seconds: number) {
  const dir = tempDir("gridlet-bench-fw-");
  const pty = await ptyPair(dir);
  const fw = await startFirmware(buildHostFirmware(dir), pty.a, ["--pulse-hz", "20", "--report-ms", "1000"]);
  const bridge = await FirmwareBridge.open({
    open: serialOpener({ path: pty.b }),
    log: silentLogger,
    tickMs: 5,
  });
  try {
    await bridge.waitConnected();
    const rtts: number[] = [];
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      const t = performance.now();
      await bridge.readPulses(0);
      rtts.push(performance.now() - t);
    }
    rtts.sort((a, b) => a - b);
    return {
      requests: rtts.length,
      requestsPerSec: rtts.length / seconds,
      rttMedianMs: rtts[Math.floor(rtts.length / 2)],
      rttP99Ms: rtts[Math.floor(rtts.length * 0.99)],
    };
  } finally {
    await bridge.close();
    await fw.stop();
    await pty.stop();
  }
}

export async function run(seconds = 1): Promise<Record<string, unknown>> {
  const codec = codecFigures(seconds);
  const link = await linkFigures(seconds);
  const requestBytes = encodeFrame(toFrame({ kind: "pulseGet", channel: 0 }, 0)).length;
  return {
    bench: "firmware-bridge",
    secondsPerMeasurement: seconds,
    pulseCountFrameBytes: codec.frameBytes,
    lineLimitFramesPerSec: round(codec.lineFramesPerSec),
    decodeFramesPerSec: Math.round(codec.decode),
    encodeFramesPerSec: Math.round(codec.encode),
    decodeHeadroomOverLine: round(codec.decode / codec.lineFramesPerSec),
    encodeHeadroomOverLine: round(codec.encode / codec.lineFramesPerSec),
    ptyRequestsPerSec: round(link.requestsPerSec),
    ptyRttMedianMs: round(link.rttMedianMs),
    ptyRttP99Ms: round(link.rttP99Ms),
    /** round trips the pty achieved, over the request/answer pairs the UART could carry */
    ptyRequestsOverLineLimit: round(
      link.requestsPerSec / (LINE_BYTES_PER_SEC / (codec.frameBytes + requestBytes)),
    ),
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
