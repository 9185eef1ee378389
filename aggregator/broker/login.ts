import { decodeEnvelope, EnvelopeVerifier, MemorySequenceStore } from "../../protocol/envelope.js";
import { ProtocolError } from "../../protocol/errors.js";
import { parseCertificate, type Role, type TrustStore } from "../../protocol/identity.js";
import { loginBodySchema, MSG_LOGIN } from "../../protocol/messages/readings.js";

export interface BrokerIdentity {
  id: string;
  role: Role;
}

/**
 * Checks an MQTT login: username = identity id, password = a login envelope (docs/AGENT.md, "Broker
 * login") signed by that identity, carrying its certificate, naming the MQTT client id, dated within
 * `maxAgeMs` and with a sequence number above the previous login of that identity. The certificate is
 * verified against the CA and added to the trust store, so that the identity's envelopes verify too.
 */
export class LoginVerifier {
  private readonly trust: TrustStore;
  private readonly verifier: EnvelopeVerifier;

  constructor(trust: TrustStore, now: () => number, maxAgeMs = 5 * 60_000) {
    this.trust = trust;
    this.verifier = new EnvelopeVerifier({
      directory: trust,
      sequences: new MemorySequenceStore(),
      freshness: { maxAgeMs: () => maxAgeMs, maxFutureMs: 60_000 },
      now,
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
