/** The Merkle tree is shared with the metered evidence of agents' summaries: see protocol/merkle.ts. */
export * from "../../protocol/merkle.js";
