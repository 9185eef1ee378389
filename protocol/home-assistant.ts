/**
 * Home Assistant naming shared by the agent (which publishes discovery) and the aggregator's broker
 * (whose ACL lets an agent write only its own discovery topics).
 */

/** HA node ids allow [a-zA-Z0-9_-]; agent ids may also hold dots. */
export function haNodeId(agentId: string): string {
  return `gridlet_${agentId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}
