import { describeError, GridletError } from "./errors.js";
import { isStoreFileError, openStores, storeFailure } from "./store-file.js";

/** Exit codes of every Gridlet process: 0 ok, 1 runtime failure, 2 usage or configuration error. */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/**
 * Error codes, from any domain, that mean the process was started with something wrong in its
 * configuration or the files it names (a key, an identity, a genesis, a port or a store that another
 * process holds): exit 2, so that a supervisor does not restart it in a loop.
 */
export const USAGE_ERROR_CODES: ReadonlySet<string> = new Set([
  "USAGE",
  "CONFIG",
  "CONFIG_INVALID",
  "CONFIG_UNREADABLE",
  "CONFIG_VERSION",
  "BAD_REQUEST",
  "ADDRESS_IN_USE",
  "STORE_LOCKED",
  "KEY_FILE_INVALID",
  "KEY_FILE_PERMISSIONS",
  "IDENTITY_FILE",
  "IDENTITY_MISMATCH",
  "TLS_FILE",
  "BAD_CONFIG",
  "NOT_AN_AGGREGATOR",
  "NOT_A_MEMBER",
  "BANK_KEY_MISMATCH",
  "CONSORTIUM_INVALID",
  "CONSORTIUM_SIGNATURE",
  "GENESIS_INVALID",
  "GENESIS_SIGNATURE",
  "STORE_IDENTITY_MISMATCH",
  // an identity the CA never issued, named on the command line (ca tls-client, ca revoke)
  "NOT_ISSUED",
]);

export function exitCodeFor(e: unknown): typeof EXIT_RUNTIME | typeof EXIT_USAGE {
  return e instanceof GridletError && USAGE_ERROR_CODES.has(e.code) ? EXIT_USAGE : EXIT_RUNTIME;
}

/** One line for an error that ends the process; a SQLite failure names the stores it may concern. */
export function describeFatal(e: unknown): string {
  if (e instanceof GridletError && e.code.startsWith("CONFIG")) return e.message;
  if (isStoreFileError(e)) return describeError(e);
  const stores = openStores();
  const store = storeFailure(e, stores.length === 1 ? stores[0] : stores.join(", "), "store");
  if (store !== undefined) return describeError(store);
  return describeError(e);
}

/**
 * What ends a process that was running: an error nothing caught (a write to a store whose disk filled
 * up, say) is reported in one line, not a stack trace, and the process exits 1 at once rather than
 * limping on with half its parts stopped. GRIDLET_DEBUG=1 adds the stack.
 */
export function installFatalHandlers(name: string): void {
  const die = (e: unknown) => {
    process.stderr.write(`${name}: fatal: ${describeFatal(e)}\n`);
    if (process.env.GRIDLET_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(EXIT_RUNTIME);
  };
  process.on("uncaughtException", die);
  process.on("unhandledRejection", die);
}
