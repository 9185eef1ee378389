import { readFileSync } from "node:fs";
import { LoadError } from "./errors.js";

export interface TlsFiles {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Reads the PEM files named in the configuration once, at start-up, naming any that cannot be read. */
export function readTlsFiles(files: TlsFiles | undefined): TlsMaterial {
  if (files === undefined) return {};
  const out: TlsMaterial = {};
  for (const k of ["ca", "cert", "key"] as const) {
    const path = files[k];
    if (path === undefined) continue;
    try {
      out[k] = readFileSync(path);
    } catch (e) {
      throw new LoadError("TLS_FILE", `cannot read TLS ${k} ${path}: ${(e as Error).message}`);
    }
  }
  return out;
}
