import type { Message } from "../messages.js";
import type { Link, ReplicaHost } from "./host.js";

/**
 * Replicas of one process talking through a FIFO drained on the event loop (setImmediate), so that real
 * timers interleave with message handling as they would between processes. For benches and tests.
 */
export class MemoryNetwork {
  private readonly hosts = new Map<string, ReplicaHost>();
  private queue: { to: string; msg: Message }[] = [];
  private scheduled = false;
  delivered = 0;

  attach(host: ReplicaHost): void {
    this.hosts.set(host.id, host);
  }

  linkFor(self: string): Link {
    return {
      send: (to, msg) => this.enqueue(to, msg),
      broadcast: (msg) => {
        for (const id of this.hosts.keys()) if (id !== self) this.enqueue(id, msg);
      },
    };
  }

  private enqueue(to: string, msg: Message): void {
    this.queue.push({ to, msg });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.pump());
    }
  }

  private pump(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const { to, msg } of batch) {
      this.delivered++;
      this.hosts.get(to)?.deliver(msg);
    }
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.pump());
    }
  }
}
