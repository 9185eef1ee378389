import { fromHex } from "../../protocol/bytes.js";
import { type BoxKeyPair, seal } from "../../protocol/crypto/box.js";
import { encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import {
  type CreditGrantBody,
  MSG_ACCOUNT_VIEW,
  MSG_CREDIT_GRANT,
  MSG_TX_RESULT,
  type TxResultBody,
} from "../../protocol/messages/downlink.js";
import { type Announcement, type Fill, MSG_ANNOUNCE, MSG_FILL } from "../../protocol/messages/trading.js";
import { topics } from "../../protocol/topics.js";
import type { AgentView } from "../state/views.js";

export interface DownlinkOptions {
  self: string;
  seed: Uint8Array;
  box: BoxKeyPair;
  /** the aggregator's persistent envelope counter */
  nextSeq: () => number;
  now: () => number;
  publish: (topic: string, payload: Buffer) => void;
  /** the agent's x25519 key (from its certificate), or undefined when unknown */
  boxKeyOf: (agent: string) => string | undefined;
}

/**
 * What the aggregator tells its agents after a commit (protocol/messages/downlink.ts): every message
 * signed by the aggregator; fills and account views sealed to the agent's certificate box key, since
 * a broker may be shared and topics are readable by whoever the broker lets in.
 */
export class Downlink {
  sent = 0;

  constructor(private readonly o: DownlinkOptions) {}

  private send(topic: string, type: string, body: unknown): void {
    const env = signEnvelope(
      { type, from: this.o.self, seq: this.o.nextSeq(), ts: this.o.now(), body },
      this.o.seed,
    );
    this.o.publish(topic, encodeEnvelope(env));
    this.sent += 1;
  }

  private sealed(agent: string, value: unknown): ReturnType<typeof seal> | undefined {
    const key = this.o.boxKeyOf(agent);
    const pub = key === undefined ? undefined : fromHex(key);
    if (pub?.length !== 32) return undefined;
    return seal(Buffer.from(JSON.stringify(value), "utf8"), pub, this.o.box);
  }

  txResult(agent: string, body: TxResultBody): void {
    this.send(topics.agentDown(agent), MSG_TX_RESULT, body);
  }

  /** False when the agent's box key is unknown (nothing sent). */
  fill(agent: string, fill: Fill): boolean {
    const box = this.sealed(agent, fill);
    if (box === undefined) return false;
    this.send(topics.agentDown(agent), MSG_FILL, box);
    return true;
  }

  view(view: AgentView): boolean {
    const box = this.sealed(view.agent, view);
    if (box === undefined) return false;
    this.send(topics.agentDown(view.agent), MSG_ACCOUNT_VIEW, box);
    return true;
  }

  grant(agent: string, body: CreditGrantBody): void {
    this.send(topics.agentDown(agent), MSG_CREDIT_GRANT, body);
  }

  announce(a: Announcement): void {
    this.send(topics.aggregatorAnnounce(this.o.self), MSG_ANNOUNCE, a);
  }
}
