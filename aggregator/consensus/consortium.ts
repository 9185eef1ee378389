import { readFileSync } from "node:fs";
import { z } from "#zod";
import { fromHex, toHex } from "../../protocol/bytes.js";
import { signingBytes } from "../../protocol/canonical.js";
import type { Ed25519 } from "../../protocol/crypto/index.js";
import { ConsensusError } from "./errors.js";

export const CONSORTIUM_DOMAIN = "gridlet/consortium/v1";

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of lower-case hex`);

const memberSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only (1 to 64)"),
    publicKey: hex(32),
    broker: z
      .string()
      .refine(
        (u) => /^(mqtts?|wss?):\/\/[^/\s]+/.test(u),
        "must be an mqtt://, mqtts://, ws:// or wss:// URL",
      ),
  })
  .strict();

const bodySchema = z
  .object({
    v: z.literal(1),
    name: z.string().min(1),
    /** ms since epoch when the CA signed it; a newer file replaces an older one */
    issued: z.number().int().nonnegative(),
    members: z.array(memberSchema).min(1),
  })
  .strict();

const fileSchema = z.object({ consortium: bodySchema, caSig: hex(64) }).strict();

export type ConsortiumMember = z.infer<typeof memberSchema>;
export type Consortium = z.infer<typeof bodySchema>;
export type ConsortiumFile = z.infer<typeof fileSchema>;

/**
 * The consortium file: the member aggregators (id, ed25519 key, broker URL) in consensus order, signed by
 * the CA over signingBytes("gridlet/consortium/v1", consortium). Membership changes only with a new file.
 */
export function signConsortium(consortium: Consortium, caSeed: Uint8Array, crypto: Ed25519): ConsortiumFile {
  const body = parseBody(consortium);
  return { consortium: body, caSig: toHex(crypto.sign(signingBytes(CONSORTIUM_DOMAIN, body), caSeed)) };
}

function parseBody(value: unknown): Consortium {
  const r = bodySchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConsensusError("CONSORTIUM_INVALID", `consortium.${issue.path.join(".")}: ${issue.message}`);
  }
  const ids = new Set<string>();
  for (const m of r.data.members) {
    if (ids.has(m.id))
      throw new ConsensusError("CONSORTIUM_INVALID", `consortium.members: duplicate id ${m.id}`);
    ids.add(m.id);
  }
  return r.data;
}

/** Checks shape and CA signature; returns the members in consensus order. */
export function verifyConsortium(value: unknown, caPublicKey: Uint8Array, crypto: Ed25519): Consortium {
  return verifyConsortiumFile(value, caPublicKey, crypto).consortium;
}

/** Checks shape and CA signature; returns the members and the signed file as it was given. */
export function verifyConsortiumFile(
  value: unknown,
  caPublicKey: Uint8Array,
  crypto: Ed25519,
): { consortium: Consortium; file: ConsortiumFile } {
  const r = fileSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConsensusError("CONSORTIUM_INVALID", `${issue.path.join(".") || "file"}: ${issue.message}`);
  }
  const body = parseBody(r.data.consortium);
  const sig = fromHex(r.data.caSig)!;
  if (!crypto.verify(sig, signingBytes(CONSORTIUM_DOMAIN, body), caPublicKey)) {
    throw new ConsensusError("CONSORTIUM_SIGNATURE", "the consortium file is not signed by this CA");
  }
  return { consortium: body, file: { consortium: body, caSig: r.data.caSig } };
}

export function loadConsortiumFile(path: string, caPublicKey: Uint8Array, crypto: Ed25519): Consortium {
  return loadConsortiumDocument(path, caPublicKey, crypto).consortium;
}

/** Reads and checks a consortium file; returns the members and the signed file (for the ledger's meta). */
export function loadConsortiumDocument(
  path: string,
  caPublicKey: Uint8Array,
  crypto: Ed25519,
): { consortium: Consortium; file: ConsortiumFile } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConsensusError("CONSORTIUM_INVALID", `cannot read ${path}: ${(e as Error).message}`, { path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConsensusError("CONSORTIUM_INVALID", `${path} is not JSON: ${(e as Error).message}`, { path });
  }
  return verifyConsortiumFile(json, caPublicKey, crypto);
}

export function memberKeys(c: Consortium): Map<string, Uint8Array> {
  return new Map(c.members.map((m) => [m.id, fromHex(m.publicKey)!]));
}
