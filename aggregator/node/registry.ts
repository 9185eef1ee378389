import { defaultEd25519, type Ed25519 } from "../../protocol/crypto/index.js";
import { isProtocolError } from "../../protocol/errors.js";
import {
  type Certificate,
  parseCertificate,
  type RevocationList,
  verifyCertificate,
  verifyRevocationList,
} from "../../protocol/identity.js";
import { NodeError } from "./errors.js";
import type { Authority } from "./genesis.js";

/** An agent as the ledger knows it: what its certificate said when its home aggregator registered it. */
export interface RegisteredAgent {
  id: string;
  serial: string;
  /** ed25519 key, hex: checks every envelope the agent signs */
  publicKey: string;
  boxKey: string;
  home: string;
  notBefore: number;
  notAfter: number;
  /** the wallet addresses the certificate lists: the only ones this agent may register */
  wallets: string[];
}

export interface RegistrySnapshot {
  agents: RegisteredAgent[];
  revocations: { version: number; serials: string[] };
}

/**
 * Who may sign what in the ledger. The CA and the authorities are fixed at genesis; agents enter by
 * `identity.register` and leave by the CA's revocation list, both as ordered transactions, so every
 * replica and an auditor knows the same senders at the same position. Keys never change once
 * registered: a replica's view of a sender's key can then only be missing, never different, which keeps
 * checks made ahead of execution (on proposals) consistent with execution.
 */
export class IdentityRegistry {
  readonly ca: Certificate;
  private readonly authorities: Map<string, string>;
  private readonly agents = new Map<string, RegisteredAgent>();
  private revocationVersion = 0;
  private readonly revoked = new Set<string>();
  private readonly crypto: Ed25519;

  constructor(ca: Certificate, authorities: readonly Authority[], crypto: Ed25519 = defaultEd25519) {
    this.ca = ca;
    this.authorities = new Map(authorities.map((a) => [a.id, a.publicKey]));
    this.crypto = crypto;
  }

  authorityKey(id: string): string | undefined {
    return this.authorities.get(id);
  }

  agent(id: string): RegisteredAgent | undefined {
    return this.agents.get(id);
  }

  /** The key of a sender that may speak at block time `time`, or a refusal. */
  agentKey(id: string, time: number): string {
    const a = this.agents.get(id);
    if (a === undefined) throw new NodeError("UNKNOWN_SENDER", `unknown sender "${id}"`, { from: id });
    if (this.revoked.has(a.serial))
      throw new NodeError("REVOKED_SENDER", `sender "${id}" is revoked`, { from: id, serial: a.serial });
    if (time < a.notBefore)
      throw new NodeError("CERT_NOT_YET_VALID", `certificate of "${id}" is not valid yet`, { from: id });
    if (time > a.notAfter)
      throw new NodeError("CERT_EXPIRED", `certificate of "${id}" expired`, { from: id });
    return a.publicKey;
  }

  /** Checks an agent certificate presented by aggregator `by` at block time; returns what to register. */
  checkRegistration(value: unknown, by: string, time: number): RegisteredAgent {
    const cert = asNodeError(() => parseCertificate(value));
    if (cert.role !== "agent")
      throw new NodeError("CERT_INVALID", `certificate of "${cert.id}" is a ${cert.role} certificate`);
    if (cert.home !== by)
      throw new NodeError("UNAUTHORIZED", `"${cert.id}" belongs to aggregator "${cert.home}", not "${by}"`, {
        id: cert.id,
      });
    asNodeError(() => verifyCertificate(cert, this.ca, time, undefined, this.crypto));
    if (this.revoked.has(cert.serial))
      throw new NodeError("REVOKED_SENDER", `certificate of "${cert.id}" is revoked`, { id: cert.id });
    // Agent transaction ids are `${agent}:${seq}`; system ids start with "sys:", genesis ones with "genesis:".
    if (this.authorities.has(cert.id) || cert.id === "sys" || cert.id === "genesis")
      throw new NodeError("IDENTITY_CONFLICT", `"${cert.id}" is reserved or an aggregator's id`, {
        id: cert.id,
      });
    const old = this.agents.get(cert.id);
    if (old !== undefined && old.publicKey !== cert.publicKey)
      throw new NodeError("IDENTITY_CONFLICT", `"${cert.id}" is registered with another key`, {
        id: cert.id,
      });
    if (old !== undefined && old.serial === cert.serial)
      throw new NodeError("ALREADY_REGISTERED", `certificate ${cert.serial} is already registered`, {
        id: cert.id,
      });
    return {
      id: cert.id,
      serial: cert.serial,
      publicKey: cert.publicKey,
      boxKey: cert.boxKey,
      home: cert.home,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      wallets: [...(cert.wallets ?? [])],
    };
  }

  /**
   * Refuses a wallet address that the agent's registered certificate does not list: wallet addresses
   * are public (they are in the certificate), so without this anyone could register another agent's
   * address first and lock it out of its own wallet.
   */
  requireCertifiedWallet(id: string, wallet: string): void {
    const a = this.agents.get(id);
    if (a?.wallets.includes(wallet)) return;
    throw new NodeError(
      "WALLET_NOT_IN_CERTIFICATE",
      `wallet ${wallet} is not in the certificate of "${id}"`,
      { agent: id, wallet },
    );
  }

  /** A renewal (same key, new serial) replaces the old record. */
  register(a: RegisteredAgent): void {
    this.agents.set(a.id, a);
  }

  checkRevocations(value: unknown): RevocationList {
    const list = value as RevocationList;
    if (
      typeof value !== "object" ||
      value === null ||
      !Number.isSafeInteger(list.version) ||
      !Array.isArray(list.revoked) ||
      list.revoked.some((r) => typeof r !== "object" || r === null || typeof r.serial !== "string")
    )
      throw new NodeError("MALFORMED", "ca.revocations: not a revocation list");
    asNodeError(() => verifyRevocationList(list, this.ca, this.crypto));
    if (list.version <= this.revocationVersion)
      throw new NodeError(
        "STALE_REVOCATIONS",
        `revocation list version ${list.version} is not newer than ${this.revocationVersion}`,
      );
    return list;
  }

  setRevocations(list: RevocationList): void {
    this.revocationVersion = list.version;
    this.revoked.clear();
    for (const r of list.revoked) this.revoked.add(r.serial);
  }

  snapshot(): RegistrySnapshot {
    return {
      agents: [...this.agents.keys()].sort().map((id) => ({ ...this.agents.get(id)! })),
      revocations: { version: this.revocationVersion, serials: [...this.revoked].sort() },
    };
  }

  restore(s: RegistrySnapshot): void {
    this.agents.clear();
    // snapshots from before certificates' wallets were kept restore with none
    for (const a of s.agents) this.agents.set(a.id, { ...a, wallets: [...(a.wallets ?? [])] });
    this.revocationVersion = s.revocations.version;
    this.revoked.clear();
    for (const serial of s.revocations.serials) this.revoked.add(serial);
  }
}

/** Certificate checks of protocol/identity throw ProtocolError; the ledger reports the same codes as its own. */
function asNodeError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isProtocolError(e)) {
      const code =
        e.code === "CERT_EXPIRED" || e.code === "CERT_NOT_YET_VALID" || e.code === "REVOKED_SENDER"
          ? e.code
          : "CERT_INVALID";
      throw new NodeError(code, e.message, e.context);
    }
    throw e;
  }
}
