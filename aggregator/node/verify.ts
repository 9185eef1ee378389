import { fromHex } from "../../protocol/bytes.js";
import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { certificateSigningBytes, parseCertificate } from "../../protocol/identity.js";
import { type Consortium, verifyConsortiumFile } from "../consensus/consortium.js";
import type { LedgerMember } from "../ledger/store.js";
import { NodeError } from "./errors.js";
import { type LedgerGenesis, loadGenesisFile, verifyGenesis } from "./genesis.js";
import { LedgerMachine } from "./machine.js";

/** The name under which block stores record this machine (meta "machine"), for `gridlet ledger verify`. */
export const LEDGER_MACHINE_NAME = "gridlet-ledger";

/** What a ledger says about itself (its meta, or an export's header): never trusted on its own. */
export interface SelfDescription {
  members?: readonly LedgerMember[] | null;
  /** genesis hash */
  genesis?: string | null;
}

/**
 * A fresh LedgerMachine to re-execute a stored ledger on (`gridlet ledger verify --db FILE --genesis
 * FILE`): the members come from the ledger's own meta, the parameters from the CA-signed genesis, and
 * a genesis other than the one the ledger was written under is refused before anything runs.
 */
export function machineForLedger(
  store: { getMeta<T>(key: string): T | undefined },
  genesisFile: string,
  o: { caPublicKey?: Uint8Array; crypto?: Ed25519 } = {},
): LedgerMachine {
  const meta = selfDescription(store);
  const members = meta.members;
  if (!Array.isArray(members) || members.length === 0)
    throw new NodeError("STORE_MISMATCH", "the ledger records no consortium members");
  const genesis = loadGenesisFile(genesisFile, { members, caPublicKey: o.caPublicKey, crypto: o.crypto });
  checkGenesisHash(meta, genesis, genesisFile);
  return LedgerMachine.fromGenesis(genesis, { crypto: o.crypto });
}

/** What a block store's meta says about the ledger. */
export function selfDescription(store: { getMeta<T>(key: string): T | undefined }): SelfDescription {
  return { members: store.getMeta<LedgerMember[]>("members"), genesis: store.getMeta<string>("genesis") };
}

/** A ledger's trust anchored to the CA: members and parameters from documents the CA signed. */
export interface CaAnchor {
  consortium: Consortium;
  /** the members in consensus order, with their keys, from the consortium file */
  members: LedgerMember[];
  genesis: LedgerGenesis;
}

/**
 * The audit's root (`gridlet ledger verify --ca`): checks the CA certificate the auditor holds
 * (self-signed, role ca), the consortium file's and the genesis' CA signatures and their agreement, and
 * returns the member keys from the consortium file. What the ledger says about itself (its meta) must
 * agree, or the ledger is refused: a copy re-keyed by anyone but the CA fails here or at its first
 * signature.
 */
export function anchorToCa(
  caCert: unknown,
  docs: { consortium: unknown; genesis: unknown },
  self: SelfDescription,
  crypto: Ed25519 = defaultEd25519,
): CaAnchor {
  const ca = parseCertificate(caCert);
  const caKey = fromHex(ca.publicKey)!;
  if (ca.role !== "ca" || ca.issuer !== ca.id)
    throw new NodeError("CERT_INVALID", `the CA certificate "${ca.id}" is not a self-issued CA certificate`);
  if (!crypto.verify(fromHex(ca.sig)!, certificateSigningBytes(ca), caKey))
    throw new NodeError("CERT_INVALID", `the CA certificate "${ca.id}" is not validly self-signed`);
  if (docs.consortium === null || docs.consortium === undefined)
    throw new NodeError("STORE_MISMATCH", "no consortium file: the ledger does not carry one, name it");
  if (docs.genesis === null || docs.genesis === undefined)
    throw new NodeError("STORE_MISMATCH", "no genesis file: the ledger does not carry one, name it");
  const { consortium } = verifyConsortiumFile(docs.consortium, caKey, crypto);
  const members = consortium.members.map((m) => ({ id: m.id, publicKey: m.publicKey }));
  const genesis = verifyGenesis(docs.genesis, {
    members,
    consortium: consortium.name,
    caPublicKey: caKey,
    crypto,
  });
  checkGenesisHash(self, genesis, "the CA-signed genesis");
  if (self.members !== undefined && self.members !== null) {
    const own = self.members.map((m) => `${m.id}=${m.publicKey}`).join(",");
    const signed = members.map((m) => `${m.id}=${m.publicKey}`).join(",");
    if (own !== signed) {
      const other = self.members.find(
        (m, i) => `${m.id}=${m.publicKey}` !== `${members[i]?.id}=${members[i]?.publicKey}`,
      );
      throw new NodeError(
        "STORE_MISMATCH",
        `the ledger's own metadata lists other members or keys than the CA-signed consortium file "${consortium.name}"` +
          (other === undefined ? "" : ` (first difference: ${other.id})`),
      );
    }
  }
  return { consortium, members, genesis };
}

function checkGenesisHash(self: SelfDescription, genesis: LedgerGenesis, what: string): void {
  const recorded = self.genesis;
  if (recorded !== undefined && recorded !== null && recorded !== genesis.hash)
    throw new NodeError(
      "STORE_MISMATCH",
      `the ledger was written under genesis ${recorded.slice(0, 16)}…, not ${what} (${genesis.hash.slice(0, 16)}…)`,
    );
}
