/**
 * Both configuration schemas, for the CLI and tests. The agent imports config/agent.ts and the
 * aggregator config/aggregator.ts, so that neither reaches the other's code through its configuration.
 */
export { type AgentConfig, agentConfigSchema } from "./agent.js";
export { type AggregatorConfig, aggregatorConfigSchema } from "./aggregator.js";
export type { TlsConfig } from "./common.js";
