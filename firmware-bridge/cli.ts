/**
 * `gridlet firmware ...`: talk to an S0/relay MCU directly, for commissioning and diagnosis. The command
 * module is wired into cli/main.ts by its owner; the work is in `probe` and `switchRelay`, which tests use.
 */
import type { Argv, CommandModule } from "yargs";
import { createLogger, type Logger } from "../protocol/log.js";
import { FirmwareBridge } from "./bridge.js";
import { BridgeError } from "./errors.js";
import type { HelloMessage } from "./session/machine.js";
import { serialOpener } from "./transport/port.js";

export interface ProbeResult {
  hello: HelloMessage;
  pulses: { channel: number; count: number; pulsesPerKwh: number; uptimeMs: number }[];
  relays: { channel: number; on: boolean; feedback: boolean | null }[];
}

async function withBridge<T>(
  port: string,
  baudRate: number,
  timeoutMs: number,
  log: Logger,
  f: (b: FirmwareBridge) => Promise<T>,
): Promise<T> {
  const bridge = await FirmwareBridge.open({
    open: serialOpener({ path: port, baudRate }),
    log,
    session: { queueTimeoutMs: timeoutMs },
  });
  try {
    await Promise.race([
      bridge.waitConnected(),
      new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new BridgeError("NOT_CONNECTED", `no firmware answered on ${port} within ${timeoutMs} ms`, {
                port,
              }),
            ),
          timeoutMs,
        ).unref(),
      ),
    ]);
    return await f(bridge);
  } finally {
    await bridge.close();
  }
}

/** Handshakes and reads every channel's count and every relay's state. */
export function probe(
  port: string,
  opts: { baudRate?: number; timeoutMs?: number; log?: Logger } = {},
): Promise<ProbeResult> {
  const log = opts.log ?? createLogger("firmware-bridge");
  return withBridge(port, opts.baudRate ?? 115200, opts.timeoutMs ?? 5000, log, async (b) => {
    const hello = b.hello as HelloMessage;
    const pulses: ProbeResult["pulses"] = [];
    for (let ch = 0; ch < hello.s0Channels; ch++) {
      const p = await b.readPulses(ch);
      pulses.push({ channel: ch, count: p.count, pulsesPerKwh: p.pulsesPerKwh, uptimeMs: p.uptimeMs });
    }
    const relays: ProbeResult["relays"] = [];
    for (let ch = 0; ch < hello.relayChannels; ch++) {
      const r = await b.relayState(ch);
      relays.push({ channel: ch, on: r.on, feedback: r.feedback });
    }
    return { hello, pulses, relays };
  });
}

/** Switches one relay and returns its confirmed state (RELAY_NOT_CONFIRMED otherwise). */
export function switchRelay(
  port: string,
  channel: number,
  on: boolean,
  opts: { baudRate?: number; timeoutMs?: number; log?: Logger } = {},
): Promise<{ channel: number; on: boolean; feedback: boolean | null }> {
  const log = opts.log ?? createLogger("firmware-bridge");
  return withBridge(port, opts.baudRate ?? 115200, opts.timeoutMs ?? 5000, log, async (b) => {
    const st = await b.setRelay(channel, on);
    return { channel: st.channel, on: st.on, feedback: st.feedback };
  });
}

const portOptions = <T>(y: Argv<T>) =>
  y
    .option("port", { type: "string", demandOption: true, describe: "serial device of the MCU" })
    .option("baud", { type: "number", default: 115200, describe: "baud rate" })
    .option("timeout", { type: "number", default: 5000, describe: "ms to wait for the firmware" });

export const firmwareCommand: CommandModule = {
  command: "firmware <action>",
  describe: "talk to an S0/relay microcontroller over its serial link (commissioning, diagnosis)",
  builder: (y) =>
    portOptions(y)
      .positional("action", {
        choices: ["probe", "relay"] as const,
        describe: "probe: HELLO, counts, relays; relay: switch one",
      })
      .option("channel", { type: "number", default: 0, describe: "relay channel (relay)" })
      .option("on", { type: "boolean", describe: "close (--on) or open (--no-on) the relay (relay)" })
      .example(
        "$0 firmware probe --port /dev/ttyUSB0",
        "print the MCU's HELLO, pulse counts and relay states",
      )
      .example("$0 firmware relay --port /dev/ttyUSB0 --channel 0 --on", "close relay 0 and confirm it"),
  handler: async (a) => {
    const opts = { baudRate: a.baud as number, timeoutMs: a.timeout as number };
    if (a.action === "probe") {
      console.log(JSON.stringify(await probe(a.port as string, opts)));
      return;
    }
    if (typeof a.on !== "boolean") {
      throw new BridgeError("CONFIG_INVALID", "relay needs --on or --no-on", {});
    }
    console.log(JSON.stringify(await switchRelay(a.port as string, a.channel as number, a.on, opts)));
  },
};
