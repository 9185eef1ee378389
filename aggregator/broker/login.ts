import {
  decodeEnvelope,
  EnvelopeVerifier,
  MemorySequenceStore,
  type SequenceStore,
} from "../../protocol/envelope.js";
import { ProtocolError } from "../../protocol/errors.js";
import { parseCertificate, type Role, type TrustStore } from "../../protocol/identity.js";
import { LOGIN_TOKEN_SKEW_MS, ownsClientId } from "../../protocol/login.js";
import { loginBodySchema, MSG_LOGIN } from "../../protocol/messages/readings.js";
import { LoginError } from "./errors.js";

export interface BrokerIdentity {
  id: string;
  role: Role;
}

/**
 * Checks an MQTT login (docs/PROTOCOL.md, "Login tokens"): username = identity id, password = a login
 * envelope signed by that identity, carrying its certificate, naming this broker's aggregator as its
 * audience and the MQTT client id, which must be the identity's own (`<id>` or `<id>/<suffix>`); dated
 * within 30 s of now and with a sequence number above the previous login of that identity here (kept
 * in `sequences`, which the aggregator persists). The certificate is verified against the CA and added
 * to the trust store, so that the identity's envelopes verify too.
 */
export class LoginVerifier {
  private readonly trust: TrustStore;
  private readonly audience: string;
  private readonly verifier: EnvelopeVerifier;

  constructor(
    trust: TrustStore,
    o: { audience: string; now: () => number; sequences?: SequenceStore; skewMs?: number },
  ) {
    this.trust = trust;
    this.audience = o.audience;
    const skew = o.skewMs ?? LOGIN_TOKEN_SKEW_MS;
    this.verifier = new EnvelopeVerifier({
      directory: trust,
      sequences: o.sequences ?? new MemorySequenceStore(),
      freshness: { maxAgeMs: () => skew, maxFutureMs: skew },
      now: o.now,
    });
  }

  verify(username: string | undefined, password: Buffer | undefined, clientId: string): BrokerIdentity {
    if (username === undefined || password === undefined) {
      throw new ProtocolError("MALFORMED", "login needs a username (identity) and a password (login token)");
    }
    const env = decodeEnvelope(password);
    if (env.type !== MSG_LOGIN) {
      throw new ProtocolError("WRONG_TYPE", `login token has type "${env.type}", expected "${MSG_LOGIN}"`);
    }
    if (env.from !== username) {
      throw new ProtocolError(
        "MALFORMED",
        `login token is from "${env.from}" but the username is "${username}"`,
      );
    }
    const body = loginBodySchema.safeParse(env.body);
    if (!body.success)
      throw new ProtocolError("MALFORMED", `login token body: ${body.error.issues[0].message}`);
    if (body.data.audience !== this.audience) {
      throw new LoginError(
        "WRONG_AUDIENCE",
        `login token is for aggregator "${body.data.audience}", this is "${this.audience}"`,
      );
    }
    if (!ownsClientId(username, clientId)) {
      throw new LoginError(
        "CLIENT_ID_NOT_OWNED",
        `client id "${clientId}" is not "${username}" or "${username}/..."; a session belongs to its identity`,
      );
    }
    if (body.data.clientId !== clientId) {
      throw new ProtocolError(
        "MALFORMED",
        `login token is for client "${body.data.clientId}", not "${clientId}"`,
      );
    }
    const cert = parseCertificate(body.data.cert);
    if (cert.id !== username) {
      throw new ProtocolError("CERT_INVALID", `login certificate is for "${cert.id}", not "${username}"`);
    }
    const known = this.trust.get(cert.id);
    if (known === undefined || known.serial !== cert.serial) this.trust.add(cert);
    this.verifier.verify(env);
    return { id: cert.id, role: cert.role };
  }
}
