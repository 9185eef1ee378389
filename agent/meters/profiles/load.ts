/** Reads and validates the profile files; the I/O shell around the schema. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MeterError } from "../errors.js";
import { type MeterProfile, profileSchema } from "./schema.js";

/** hardware/profiles in the source tree; the compiled code sits three folders below the package root. */
export const DEFAULT_PROFILE_DIR = fileURLToPath(new URL("../../../../hardware/profiles/", import.meta.url));

export function parseProfile(json: unknown, source: string): MeterProfile {
  const r = profileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new MeterError(
      "PROFILE_INVALID",
      `${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      {
        source,
        issues: r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
      },
    );
  }
  return r.data;
}

export function loadProfiles(dir = DEFAULT_PROFILE_DIR): Map<string, MeterProfile> {
  const out = new Map<string, MeterProfile>();
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .sort()) {
    const path = join(dir, f);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new MeterError("PROFILE_INVALID", `${path}: not valid JSON`, { cause: String(e) });
    }
    const p = parseProfile(json, path);
    if (out.has(p.name)) throw new MeterError("PROFILE_INVALID", `${path}: duplicate profile name ${p.name}`);
    out.set(p.name, p);
  }
  return out;
}

let cache: Map<string, MeterProfile> | undefined;

export function getProfile(name: string, dir?: string): MeterProfile {
  if (dir === undefined && cache === undefined) cache = loadProfiles();
  const all = dir === undefined && cache !== undefined ? cache : loadProfiles(dir);
  const p = all.get(name);
  if (!p) {
    throw new MeterError(
      "PROFILE_UNKNOWN",
      `no meter profile "${name}" (known: ${[...all.keys()].join(", ")})`,
    );
  }
  return p;
}
