import { join } from "node:path";
import { type ConsortiumFile, signConsortium } from "../../aggregator/consensus/consortium.js";
import type { BankKeys } from "../../aggregator/credit/service.js";
import {
  type Authority,
  createGenesis,
  type LedgerGenesis,
  verifyGenesis,
  writeGenesisFile,
} from "../../aggregator/node/genesis.js";
import { toHex } from "../../protocol/bytes.js";
import { CaDirectory } from "../../protocol/ca-dir.js";
import { newBoxKeyPair } from "../../protocol/crypto/box.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { type Envelope, signEnvelope } from "../../protocol/envelope.js";
import type { Certificate, KeyMaterial } from "../../protocol/identity.js";
import { readKeyFile } from "../../protocol/keyfile.js";
import { requiredDepositMc } from "../../protocol/messages/trading.js";
import { seededRandom } from "./credit-world.js";
import { MeterLog } from "./metering.js";

/**
 * A consortium for tests, demos and benches: a real CA directory, n aggregators with ed25519 keys, a
 * CA-signed genesis with a credit bank at the first aggregator, and agents with CA-issued certificates
 * that sign their own envelopes. Time and randomness are injected.
 */
export interface TestConsortium {
  ca: CaDirectory;
  members: (Authority & { seed: Uint8Array })[];
  genesis: LedgerGenesis;
  genesisFile: string;
  /** the CA-signed consortium file (name "test", members in order, placeholder broker URLs) */
  consortiumFile: ConsortiumFile;
  bankKeys: BankKeys;
}

export const BANK_FUNDS_MC = 1_000_000;

export function makeConsortium(
  dir: string,
  o: { n: number; now: () => number; trading?: unknown; credit?: unknown; label?: string },
): TestConsortium {
  const random = seededRandom(o.label ?? "node-testkit");
  const ca = new CaDirectory(join(dir, "ca"), { now: o.now, random });
  ca.init("test-ca");
  const members = Array.from({ length: o.n }, (_, i) => {
    const seed = random(32);
    return { id: `eag${i}`, publicKey: toHex(defaultEd25519.publicKey(seed)), seed };
  });
  const bankSeed = random(32);
  const bankKeys: BankKeys = { id: members[0].id, seed: bankSeed, box: newBoxKeyPair(random) };
  const authorities = members.map(({ id, publicKey }) => ({ id, publicKey }));
  const file = createGenesis(ca, {
    consortium: { name: "test", members: authorities },
    issued: o.now(),
    trading: o.trading ?? {},
    credit: o.credit ?? {},
    banks: {
      [bankKeys.id]: {
        publicKey: toHex(defaultEd25519.publicKey(bankSeed)),
        wallet: `bank-${bankKeys.id}-wallet`,
        fundsMc: BANK_FUNDS_MC,
      },
    },
  });
  const genesisFile = join(dir, "genesis.json");
  writeGenesisFile(genesisFile, file);
  const genesis = verifyGenesis(file, { members: authorities, consortium: "test" });
  const consortiumFile = signConsortium(
    {
      v: 1,
      name: "test",
      issued: o.now(),
      members: authorities.map((a, i) => ({ ...a, broker: `mqtt://eag${i}.invalid:1883` })),
    },
    readKeyFile(ca.keyPath).seed,
    defaultEd25519,
  );
  return { ca, members, genesis, genesisFile, consortiumFile, bankKeys };
}

/** An agent with its CA-issued certificate and key, signing envelopes with rising sequence numbers. */
export class TestAgent {
  readonly cert: Certificate;
  readonly key: KeyMaterial;
  private seq = 0;
  /** the agent's signed readings and the summaries they prove */
  readonly meters = new MeterLog((type, body, ts) => this.sign(type, body, ts));

  constructor(c: TestConsortium, id: string, home: string, dir: string) {
    const issued = c.ca.issue({ role: "agent", id, home, wallets: 1 }, join(dir, "agents"));
    this.cert = issued.cert;
    this.key = issued.key;
  }

  get id(): string {
    return this.cert.id;
  }

  get wallet(): string {
    return this.cert.wallets![0];
  }

  sign(type: string, body: unknown, ts: number): Envelope {
    this.seq += 1;
    return signEnvelope({ type, from: this.id, seq: this.seq, ts, body }, this.key.seed);
  }

  /** An order with the deposit authorisation the rules require. */
  order(side: "buy" | "sell", interval: number, energyWh: number, price: number, ts: number): Envelope {
    const deposit = requiredDepositMc(side, energyWh, price, 10, 2_000);
    return this.sign(
      "order",
      {
        wallet: this.wallet,
        side,
        interval,
        energyWh,
        limitPriceMcPerKwh: price,
        deposit: { wallet: this.wallet, interval, maxDepositMc: deposit },
      },
      ts,
    );
  }
}
