/**
 * The `meters:` entry for an S0 meter behind the firmware bridge, and the factory that turns one into a
 * running MeterDriver. The agent's configuration schema can compose `s0MeterSchema` into its meter union
 * and its driver factory can call `openS0Meter` for `driver: s0-bridge`.
 */
import { z } from "#zod";
import { createLogger, type Logger } from "../protocol/log.js";
import { FirmwareBridge } from "./bridge.js";
import { S0MeterDriver } from "./driver.js";
import { BridgeError } from "./errors.js";
import type { ChannelState } from "./session/energy.js";
import { serialOpener } from "./transport/port.js";
import { reconnectingOpener } from "./transport/reconnect.js";

export const s0MeterSchema = z
  .object({
    id: z.string().min(1).max(64),
    driver: z.literal("s0-bridge"),
    /** serial device of the MCU, preferably a /dev/serial/by-id/... link */
    port: z.string().min(1),
    baudRate: z.number().int().min(1200).max(1_000_000).default(115200),
    importChannel: z.number().int().min(0).max(3).default(0),
    exportChannel: z.number().int().min(0).max(3).optional(),
    /** the meter constant (imp/kWh on its nameplate); pushed to the MCU at every handshake when given */
    pulsesPerKwh: z.number().int().min(1).max(1_000_000).optional(),
    /** S0 pulses last at least 30 ms (IEC 62053-31) */
    debounceMs: z.number().int().min(1).max(30).default(10),
    /** register values to start from when no state was persisted, e.g. the meter's display */
    startWh: z
      .object({ import: z.number().int().min(0).default(0), export: z.number().int().min(0).default(0) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((m) => m.exportChannel === undefined || m.exportChannel !== m.importChannel, {
    message: "exportChannel must differ from importChannel",
    path: ["exportChannel"],
  });

export type S0MeterConfig = z.infer<typeof s0MeterSchema>;

export interface S0MeterDeps {
  log?: Logger;
  wallNow?: () => number;
  /** what `driver.state()` returned before the agent stopped */
  state?: { import?: ChannelState; export?: ChannelState };
}

/** A meter driver that owns its bridge (closing it closes the port); the bridge is exposed for relays. */
export interface S0Meter {
  driver: S0MeterDriver;
  bridge: FirmwareBridge;
}

export async function openS0Meter(entry: unknown, deps: S0MeterDeps = {}): Promise<S0Meter> {
  const parsed = s0MeterSchema.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BridgeError("CONFIG_INVALID", `meters[].${issue.path.join(".")}: ${issue.message}`, {
      path: issue.path.join("."),
    });
  }
  const cfg = parsed.data;
  const log = deps.log ?? createLogger("firmware-bridge").child(cfg.id);
  const bridge = await FirmwareBridge.open({
    open: reconnectingOpener(serialOpener({ path: cfg.port, baudRate: cfg.baudRate }), { log }),
    log,
  });
  if (cfg.pulsesPerKwh !== undefined) {
    const ppk = cfg.pulsesPerKwh;
    const channels = [cfg.importChannel, ...(cfg.exportChannel === undefined ? [] : [cfg.exportChannel])];
    // After every handshake, since the MCU may have rebooted with another constant in its EEPROM.
    bridge.on({
      connected: () => {
        for (const ch of channels) {
          bridge.configurePulses(ch, ppk, cfg.debounceMs).catch((e: unknown) => {
            log.error("could not set the meter constant", { channel: ch, error: String(e) });
          });
        }
      },
    });
  }
  const driver = new S0MeterDriver(
    bridge,
    {
      id: cfg.id,
      importChannel: cfg.importChannel,
      exportChannel: cfg.exportChannel,
      wallNow: deps.wallNow ?? Date.now,
      state: deps.state,
      startWh: cfg.startWh,
    },
    { ownsBridge: true },
  );
  return { driver, bridge };
}
