import { errorFamily, type FamilyError } from "../../protocol/errors.js";
import type { CreditErrorCode } from "../credit/errors.js";
import type { TradingErrorCode } from "../state/errors.js";

/**
 * Why the ledger machine refuses a transaction before it reaches the trading core, and why a genesis
 * or a node cannot start. Trading and credit refusals keep their own codes (TradingErrorCode,
 * CreditErrorCode) in the apply result.
 */
export const NODE_ERROR_CODES = [
  /** not a signed envelope of the right shape, or its body fails its schema */
  "MALFORMED",
  /** envelope type the ledger does not carry */
  "UNKNOWN_MESSAGE_TYPE",
  /** no registered certificate (agents) or consortium key (aggregators) for the sender */
  "UNKNOWN_SENDER",
  /** the sender's certificate is on the CA's revocation list */
  "REVOKED_SENDER",
  /** the sender's certificate is not valid at block time */
  "CERT_EXPIRED",
  "CERT_NOT_YET_VALID",
  /** a certificate or revocation list without a valid CA signature, or of the wrong role */
  "CERT_INVALID",
  "BAD_SIGNATURE",
  /** a system or registry message from someone who is not an authority, or not the agent's home */
  "UNAUTHORIZED",
  /** an identity already registered under another key, or an agent id that names an aggregator */
  "IDENTITY_CONFLICT",
  /** the same certificate registered again */
  "ALREADY_REGISTERED",
  /** an agent registering a wallet address its own certificate does not list */
  "WALLET_NOT_IN_CERTIFICATE",
  /** a revocation list not newer than the one in force */
  "STALE_REVOCATIONS",
  /** a handler failed in a way it should not (a bug); the transaction is refused, the state kept */
  "INTERNAL",
  /** genesis document: shape, signature, or disagreement with the consortium */
  "GENESIS_INVALID",
  "GENESIS_SIGNATURE",
  /** a block store written under another genesis */
  "STORE_MISMATCH",
  /** node options that fail their schema (the message names the field) */
  "BAD_CONFIG",
] as const;

export type NodeErrorCode = (typeof NODE_ERROR_CODES)[number];

export const { Error: NodeError, is: isNodeError } = errorFamily<NodeErrorCode>("NodeError");
export type NodeError = FamilyError<NodeErrorCode>;

/** Every code a ledger transaction can be refused with: the ledger machine's, the trading core's, the credit bank's. */
export type LedgerRefusalCode = NodeErrorCode | TradingErrorCode | CreditErrorCode;
