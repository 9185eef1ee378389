import { chmodSync, closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { fromHex, toHex } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import { type Certificate, type KeyMaterial, parseCertificate } from "./identity.js";

/**
 * Key files are JSON `{v, id, seed, boxSecret}` (hex), written with mode 0600. A key file that group or
 * others may read is refused: on a shared gateway that key must be considered leaked.
 */
export function writeKeyFile(path: string, key: KeyMaterial): void {
  const text = `${JSON.stringify({ v: 1, id: key.id, seed: toHex(key.seed), boxSecret: toHex(key.boxSecret) }, null, 2)}\n`;
  // Create with 0600 from the start so that the secret is never readable by others, even briefly.
  const fd = openSync(path, "w", 0o600);
  try {
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

export function readKeyFile(path: string): KeyMaterial {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new ProtocolError("KEY_FILE_INVALID", `cannot read key file ${path}: ${(e as Error).message}`, {
      path,
    });
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new ProtocolError(
      "KEY_FILE_PERMISSIONS",
      `key file ${path} is accessible by group or others (mode ${octal}); run: chmod 600 ${path}`,
      { path, mode: octal },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new ProtocolError("KEY_FILE_INVALID", `key file ${path} is not JSON`, { path });
  }
  const o = value as Record<string, unknown>;
  const seed = typeof o?.seed === "string" ? fromHex(o.seed) : undefined;
  const boxSecret = typeof o?.boxSecret === "string" ? fromHex(o.boxSecret) : undefined;
  if (typeof o?.id !== "string" || seed?.length !== 32 || boxSecret?.length !== 32) {
    throw new ProtocolError(
      "KEY_FILE_INVALID",
      `key file ${path} needs "id", a 32-byte "seed" and "boxSecret"`,
      {
        path,
      },
    );
  }
  return { id: o.id, seed, boxSecret };
}

export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ProtocolError("CERT_INVALID", `cannot read ${what} ${path}: ${(e as Error).message}`, { path });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError("CERT_INVALID", `${what} ${path} is not JSON`, { path });
  }
}

export function readCertificateFile(path: string): Certificate {
  return parseCertificate(readJsonFile(path, "certificate"));
}

export function writeJsonFile(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
