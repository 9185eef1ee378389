import type { Ed25519 } from "./ed25519.js";
import { NobleEd25519 } from "./noble-ed25519.js";
import { NodeEd25519 } from "./node-ed25519.js";
import { TweetnaclEd25519 } from "./tweetnacl-ed25519.js";

export type { Ed25519 } from "./ed25519.js";
export { NobleEd25519 } from "./noble-ed25519.js";
export { NodeEd25519 } from "./node-ed25519.js";
export { TweetnaclEd25519 } from "./tweetnacl-ed25519.js";

/** The implementation used by default: node's built-in, measured fastest (bench/crypto). */
export const defaultEd25519: Ed25519 = new NodeEd25519();

export function ed25519ByName(name: string): Ed25519 {
  switch (name) {
    case "node":
      return defaultEd25519;
    case "noble":
      return new NobleEd25519();
    case "tweetnacl":
      return new TweetnaclEd25519();
    default:
      throw new RangeError(`unknown ed25519 implementation "${name}" (expected node, noble or tweetnacl)`);
  }
}
