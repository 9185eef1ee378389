import { freeListenPort } from "../../cli/demo/ports.js";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a listener a test or bench starts. Taken
 * below the kernel's ephemeral range and never twice in one process (freeListenPort): a port from the
 * ephemeral range could be taken by an outgoing connection of a concurrent test between the choice and
 * the listen.
 */
export const freePort = freeListenPort;

// the demo picks its ports the same way; it lives with the demo, as production code
export { freeListenPort };
