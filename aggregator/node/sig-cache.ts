import { fromHex } from "../../protocol/bytes.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { type Envelope, envelopeSigningBytes } from "../../protocol/envelope.js";
import { sha256Hex } from "../../protocol/hash.js";

/**
 * Remembers ed25519 verdicts on envelopes, so that the check consensus makes on a proposal
 * (`validateTx`) and the one the ledger makes when it applies the same envelope cost one verification.
 * The key is the signature together with the hash of the signed bytes and the key it was checked
 * against: a valid signature pasted onto other content, or checked against another sender's key, is a
 * different entry, so a verdict never depends on whether the cache was warm.
 */
export class SignatureCache {
  private readonly verdicts = new Map<string, boolean>();
  /**
   * Verdicts on frozen envelope objects (the ledger machine decodes each transaction once into a frozen
   * envelope, machine.ts `decode`), by object and key: the check at execution after the one at
   * proposal costs a lookup, with no canonical JSON and no hash. Only frozen objects are remembered this
   * way, so content cannot change under a verdict.
   */
  private readonly byObject = new WeakMap<Envelope, Map<string, boolean>>();
  private readonly crypto: Ed25519;
  private readonly capacity: number;
  hits = 0;
  misses = 0;

  constructor(crypto: Ed25519 = defaultEd25519, capacity = 65_536) {
    this.crypto = crypto;
    this.capacity = capacity;
  }

  verify(env: Envelope, publicKeyHex: string): boolean {
    const frozen = Object.isFrozen(env) && Object.isFrozen(env.body);
    const mine = frozen ? this.byObject.get(env) : undefined;
    const seen = mine?.get(publicKeyHex);
    if (seen !== undefined) {
      this.hits++;
      return seen;
    }
    const ok = this.verifyContent(env, publicKeyHex);
    if (frozen) {
      if (mine === undefined) this.byObject.set(env, new Map([[publicKeyHex, ok]]));
      else mine.set(publicKeyHex, ok);
    }
    return ok;
  }

  private verifyContent(env: Envelope, publicKeyHex: string): boolean {
    const bytes = envelopeSigningBytes(env);
    const key = `${env.sig}/${publicKeyHex}/${sha256Hex(bytes)}`;
    const known = this.verdicts.get(key);
    if (known !== undefined) {
      this.hits++;
      return known;
    }
    this.misses++;
    const sig = fromHex(env.sig);
    const pub = fromHex(publicKeyHex);
    const ok =
      sig !== undefined && pub !== undefined && pub.length === 32 && this.crypto.verify(sig, bytes, pub);
    this.keep(key, ok);
    return ok;
  }

  /**
   * A verdict reached elsewhere (ingest's verify threads) on `env`'s signing bytes `bytes` under the key
   * `publicKeyHex`: the ledger's check of the same envelope later is a hit.
   */
  remember(env: Envelope, publicKeyHex: string, bytes: Uint8Array, ok: boolean): void {
    this.keep(`${env.sig}/${publicKeyHex}/${sha256Hex(bytes)}`, ok);
  }

  private keep(key: string, ok: boolean): void {
    // Oldest first out: a verdict is needed between proposal and execution, a few rounds at most.
    if (this.verdicts.size >= this.capacity) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest !== undefined) this.verdicts.delete(oldest);
    }
    this.verdicts.set(key, ok);
  }

  get size(): number {
    return this.verdicts.size;
  }
}
