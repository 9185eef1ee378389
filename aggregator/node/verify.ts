import type { Ed25519 } from "../../protocol/crypto/index.js";
import type { BlockStore, LedgerMember } from "../ledger/store.js";
import { NodeError } from "./errors.js";
import { loadGenesisFile } from "./genesis.js";
import { LedgerMachine } from "./machine.js";

/** The name under which block stores record this machine (meta "machine"), for `gridlet ledger verify`. */
export const LEDGER_MACHINE_NAME = "gridlet-ledger";

/**
 * A fresh LedgerMachine to re-execute a stored ledger on (`gridlet ledger verify --db FILE --genesis
 * FILE`): the members come from the ledger's own meta, the parameters from the CA-signed genesis, and
 * a genesis other than the one the ledger was written under is refused before anything runs.
 */
export function machineForLedger(
  store: BlockStore,
  genesisFile: string,
  o: { caPublicKey?: Uint8Array; crypto?: Ed25519 } = {},
): LedgerMachine {
  const members = store.getMeta<LedgerMember[]>("members");
  if (!Array.isArray(members) || members.length === 0)
    throw new NodeError("STORE_MISMATCH", "the ledger records no consortium members");
  const genesis = loadGenesisFile(genesisFile, { members, caPublicKey: o.caPublicKey, crypto: o.crypto });
  const recorded = store.getMeta<string>("genesis");
  if (recorded !== undefined && recorded !== genesis.hash)
    throw new NodeError(
      "STORE_MISMATCH",
      `the ledger was written under genesis ${recorded.slice(0, 16)}…, not ${genesisFile} (${genesis.hash.slice(0, 16)}…)`,
    );
  return LedgerMachine.fromGenesis(genesis, { crypto: o.crypto });
}
