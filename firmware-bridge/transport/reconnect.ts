/**
 * Keeps a port open across unplugging: when the device goes away (a USB-serial adapter pulled, socat
 * restarted) it is reopened with exponential back-off, by path, so a udev symlink that now points at a new
 * ttyUSBn is followed. The bridge above never sees the gap as a close: its writes fail meanwhile, its
 * requests time out, its liveness probe reports `disconnected`, and it handshakes again once bytes flow.
 */
import { createLogger, type Logger } from "../../protocol/log.js";
import { BridgeError } from "../errors.js";
import type { BridgePort, PortHandlers, PortOpener } from "./port.js";

export interface ReconnectOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
  /** waits; injected so tests of this module can drive it */
  sleep?: (ms: number) => Promise<void>;
  log?: Logger;
}

export function reconnectingOpener(inner: PortOpener, opts: ReconnectOptions = {}): PortOpener {
  const minDelay = opts.minDelayMs ?? 200;
  const maxDelay = opts.maxDelayMs ?? 5000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = opts.log ?? createLogger("firmware-bridge:port");

  return async (h: PortHandlers) => {
    let current: BridgePort | undefined;
    let closing = false;

    const innerHandlers: PortHandlers = {
      onData: (b) => h.onData(b),
      onClose: (e) => {
        current = undefined;
        if (closing) return;
        log.warn("serial port lost, reopening", { error: e?.message });
        void reopen();
      },
    };

    const reopen = async () => {
      let delay = minDelay;
      while (!closing) {
        await sleep(delay);
        if (closing) return;
        try {
          current = await inner(innerHandlers);
          log.info("serial port reopened");
          h.onReopen?.();
          return;
        } catch (e) {
          log.debug("reopen failed", { error: e instanceof Error ? e.message : String(e), retryInMs: delay });
          delay = Math.min(maxDelay, delay * 2);
        }
      }
    };

    current = await inner(innerHandlers);
    return {
      write: async (bytes) => {
        const port = current;
        if (port === undefined) throw new BridgeError("PORT_ERROR", "serial port is being reopened", {});
        await port.write(bytes);
      },
      close: async () => {
        closing = true;
        const port = current;
        current = undefined;
        await port?.close();
        h.onClose();
      },
    };
  };
}
