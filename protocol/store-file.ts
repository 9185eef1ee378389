import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import Database from "better-sqlite3";
import { errorFamily, type FamilyError } from "./errors.js";

/**
 * Why a SQLite store cannot be used: another process has it (`STORE_LOCKED`, a configuration problem:
 * exit 2), its file is damaged (`STORE_CORRUPT`), it cannot be written (`STORE_READ_ONLY`), its disk is
 * full (`STORE_FULL`), or the operating system failed it (`STORE_IO`, `STORE_OPEN_FAILED`).
 */
export type StoreFileErrorCode =
  | "STORE_LOCKED"
  | "STORE_CORRUPT"
  | "STORE_READ_ONLY"
  | "STORE_FULL"
  | "STORE_IO"
  | "STORE_OPEN_FAILED";
export const { Error: StoreFileError, is: isStoreFileError } =
  errorFamily<StoreFileErrorCode>("StoreFileError");
export type StoreFileError = FamilyError<StoreFileErrorCode>;

/** The stores this process has open, so that a failure of any of them can name them. */
const open = new Map<string, string>();

/** The stores open in this process, `what (path)`, for error messages. */
export function openStores(): string[] {
  return [...open].map(([path, what]) => `${what} (${path})`);
}

const lockPath = (path: string) => `${path}.lock`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `<path>.lock`, a file naming this process's PID, so that a second process on the same store
 * stops at once with a clear message instead of fighting the first for its sessions. A lock left by a
 * process that no longer runs (kill -9, power loss) is taken over. Returns the release function.
 */
export function lockStore(path: string, what: string): () => void {
  const file = lockPath(path);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new StoreFileError(
          "STORE_OPEN_FAILED",
          `cannot create the lock ${file} of ${what}: ${(e as Error).message}`,
          {
            path,
          },
        );
      }
    }
    let pid = Number.NaN;
    try {
      pid = Number(readFileSync(file, "utf8").trim());
    } catch {
      // vanished meanwhile: try again
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new StoreFileError(
        "STORE_LOCKED",
        `${what} ${path} is in use by process ${pid} (lock file ${file}); stop that process first, or give this one its own store`,
        { path, pid },
      );
    }
    if (pid === process.pid) return () => undefined;
    // stale: its process is gone
    try {
      unlinkSync(file);
    } catch {
      // taken by someone else meanwhile: the next attempt tells
    }
  }
  throw new StoreFileError("STORE_LOCKED", `${what} ${path}: its lock file ${file} keeps coming back`, {
    path,
  });
}

/** Maps a SQLite failure to a store error naming the file, or undefined for anything else. */
export function storeFailure(e: unknown, path: string, what: string): StoreFileError | undefined {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return undefined;
  const detail = `${(e as Error).message} (${code})`;
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB")
    return new StoreFileError(
      "STORE_CORRUPT",
      `${what} ${path} is corrupt: ${detail}; restore it from a backup`,
      {
        path,
      },
    );
  if (code.startsWith("SQLITE_READONLY"))
    return new StoreFileError(
      "STORE_READ_ONLY",
      `${what} ${path} cannot be written: ${detail}; check the file's and its directory's permissions and the mount`,
      { path },
    );
  if (code === "SQLITE_FULL")
    return new StoreFileError("STORE_FULL", `${what} ${path}: the disk is full: ${detail}`, { path });
  if (code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_CANTOPEN"))
    return new StoreFileError("STORE_IO", `${what} ${path}: ${detail}`, { path });
  return undefined;
}

/**
 * Opens the writable SQLite store of a Gridlet process: its lock, WAL with `synchronous` as asked, a
 * quick integrity check and a write probe, so that a store that is taken, damaged, read-only or on a
 * full disk is reported by name at start-up, before anything runs. The returned `close` closes the
 * database and releases the lock.
 */
export function openStore(
  path: string,
  what: string,
  o: { synchronous?: "NORMAL" | "FULL" } = {},
): { db: Database.Database; close: () => void } {
  const release = lockStore(path, what);
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma("busy_timeout = 5000");
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok")
      throw new StoreFileError(
        "STORE_CORRUPT",
        `${what} ${path} fails its integrity check: ${String(check)}`,
        {
          path,
        },
      );
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${o.synchronous ?? "NORMAL"}`);
    // A read-only file or directory only shows on the first write: find out now, not mid-run.
    db.exec("CREATE TABLE IF NOT EXISTS store_probe (x INTEGER); DROP TABLE store_probe;");
  } catch (e) {
    db?.close();
    release();
    if (isStoreFileError(e)) throw e;
    throw (
      storeFailure(e, path, what) ??
      new StoreFileError("STORE_OPEN_FAILED", `cannot open ${what} ${path}: ${(e as Error).message}`, {
        path,
      })
    );
  }
  open.set(path, what);
  const handle = db;
  return {
    db: handle,
    close: () => {
      open.delete(path);
      handle.close();
      release();
    },
  };
}
