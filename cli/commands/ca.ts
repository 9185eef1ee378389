import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { CaDirectory } from "../../protocol/ca-dir.js";
import { isProtocolError } from "../../protocol/errors.js";
import {
  parseCertificate,
  type RevocationList,
  verifyCertificate,
  verifyRevocationList,
} from "../../protocol/identity.js";
import { readCertificateFile, readJsonFile } from "../../protocol/keyfile.js";
import { EXIT_RUNTIME, UsageError } from "../exit.js";
import { initTlsCa, tlsClient, tlsInit, tlsServer } from "./ca-tls.js";

const DEFAULT_DIR = process.env.GRIDLET_CA_DIR ?? "./gridlet-ca";

/**
 * Validity in days: a whole number from 1 up to `max` (a certificate valid for 1e12 days, or for minus
 * one day, is a typing mistake, not a policy).
 */
function checkDays(days: unknown, max: number): true {
  if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > max)
    throw new UsageError(
      "USAGE",
      `--days: got ${String(days)}, expected a whole number of days from 1 to ${max}`,
    );
  return true;
}
/** 100 years for the CA; 10 for the identities it issues (they are re-issued, the CA is not). */
export const MAX_CA_DAYS = 36_500;
export const MAX_IDENTITY_DAYS = 3_650;

const withDir = <T>(y: Argv<T>) =>
  y
    .strict()
    .option("dir", { type: "string", default: DEFAULT_DIR, describe: "CA directory (env GRIDLET_CA_DIR)" });

const init: CommandModule = {
  command: "init",
  describe:
    "create a certificate authority: ed25519 key, certificate and empty revocation list, and an X.509 CA for TLS",
  builder: (y) =>
    withDir(y)
      .option("id", { type: "string", default: "gridlet-ca", describe: "id of the CA" })
      .option("days", { type: "number", default: 3650, describe: `validity in days (1..${MAX_CA_DAYS})` })
      .check((a) => checkDays(a.days, MAX_CA_DAYS))
      .example("$0 ca init --dir /etc/gridlet/ca", "create a CA in /etc/gridlet/ca"),
  handler: async (a) => {
    const ca = new CaDirectory(String(a.dir));
    const cert = ca.init(String(a.id), Number(a.days));
    console.log(`CA "${cert.id}" created in ${ca.dir}`);
    console.log(`  key:         ${ca.keyPath} (mode 0600)`);
    console.log(`  certificate: ${ca.certPath}`);
    console.log(`  public key:  ${cert.publicKey}`);
    await initTlsCa(ca.dir, cert.id, Number(a.days));
  },
};

const issue: CommandModule = {
  command: "issue",
  describe: "issue a key pair and certificate to an agent or aggregator",
  builder: (y) =>
    withDir(y)
      .option("role", { choices: ["agent", "aggregator"] as const, demandOption: true })
      .option("id", { type: "string", demandOption: true, describe: "identity, e.g. agent-07" })
      .option("home", { type: "string", describe: "home aggregator of an agent" })
      .option("wallets", { type: "number", describe: "number of wallet addresses of an agent (default 2)" })
      .option("days", {
        type: "number",
        default: 365,
        describe: `validity in days (1..${MAX_IDENTITY_DAYS})`,
      })
      .check((a) => checkDays(a.days, MAX_IDENTITY_DAYS))
      .option("out", {
        type: "string",
        describe: "where to write ID.key and ID.cert.json (default DIR/identities)",
      })
      .example("$0 ca issue --role aggregator --id agg-1", "an aggregator identity")
      .example("$0 ca issue --role agent --id agent-07 --home agg-1 --wallets 3", "an agent with 3 wallets"),
  handler: (a) => {
    const ca = new CaDirectory(String(a.dir));
    const out = a.out !== undefined ? String(a.out) : join(ca.dir, "identities");
    const issued = ca.issue(
      {
        role: a.role as "agent" | "aggregator",
        id: String(a.id),
        ...(a.home !== undefined ? { home: String(a.home) } : {}),
        ...(a.wallets !== undefined ? { wallets: Number(a.wallets) } : {}),
        validDays: Number(a.days),
      },
      out,
    );
    console.log(`issued ${issued.cert.role} "${issued.cert.id}" serial ${issued.cert.serial}`);
    console.log(`  key:         ${issued.keyPath} (mode 0600)`);
    console.log(`  certificate: ${issued.certPath}`);
    if (issued.cert.wallets) console.log(`  wallets:     ${issued.cert.wallets.join(", ")}`);
  },
};

const withTargets = <T>(y: Argv<T>) =>
  y
    .option("to", {
      type: "string",
      array: true,
      describe: "AGGREGATOR_ID=BROKER_URL to hand the revocation list to (repeatable)",
    })
    .option("consortium", { type: "string", describe: "hand it to every member of this consortium file" });

async function publishTo(ca: CaDirectory, a: Record<string, unknown>): Promise<void> {
  const { publishRevocations, publishTargets } = await import("./ca-publish.js");
  const targets = await publishTargets(
    ((a.to as string[] | undefined) ?? []).map(String),
    a.consortium === undefined ? undefined : String(a.consortium),
    ca,
  );
  const results = await publishRevocations(ca, targets);
  for (const r of results)
    console.log(r.error === undefined ? `  published to ${r.id}` : `  NOT published to ${r.id}: ${r.error}`);
  if (results.some((r) => r.error !== undefined)) process.exitCode = EXIT_RUNTIME;
}

const revoke: CommandModule = {
  command: "revoke",
  describe:
    "revoke an issued certificate (re-signs revocations.json with a higher version), optionally handing the list to aggregators",
  builder: (y) =>
    withTargets(withDir(y))
      .option("id", { type: "string", demandOption: true })
      .option("reason", { type: "string", default: "unspecified" })
      .example("$0 ca revoke --id agent-07 --reason 'key leaked'", "revoke agent-07")
      .example(
        "$0 ca revoke --id agent-07 --to agg-1=mqtts://10.0.0.1:8883",
        "revoke, and publish the list on agg-1's broker (its peers pass it on)",
      ),
  handler: async (a) => {
    const ca = new CaDirectory(String(a.dir));
    const list = ca.revoke(String(a.id), String(a.reason));
    console.log(
      `revoked "${a.id}"; revocation list is now version ${list.version} (${list.revoked.length} entries)`,
    );
    if (a.to !== undefined || a.consortium !== undefined) await publishTo(ca, a);
  },
};

const publish: CommandModule = {
  command: "publish",
  describe:
    "hand the current revocation list to aggregators' brokers (retained on gridlet/v1/ca/revocations)",
  builder: (y) =>
    withTargets(withDir(y)).example(
      "$0 ca publish --consortium /etc/gridlet/consortium.json",
      "to every member of the consortium",
    ),
  handler: async (a) => {
    const ca = new CaDirectory(String(a.dir));
    console.log(`revocation list version ${ca.revocations().version}`);
    await publishTo(ca, a);
  },
};

const verify: CommandModule = {
  command: "verify <file>",
  describe: "verify a certificate: CA signature, validity and revocation",
  builder: (y) =>
    withDir(y)
      .positional("file", { type: "string", demandOption: true, describe: "certificate file (ID.cert.json)" })
      .option("ca", { type: "string", describe: "CA certificate (default DIR/ca.cert.json)" })
      .option("crl", {
        type: "string",
        describe: "revocation list (default DIR/revocations.json if present)",
      })
      .example("$0 ca verify gridlet-ca/identities/agent-07.cert.json", "check agent-07's certificate"),
  handler: (a) => {
    const dir = String(a.dir);
    const caPath = a.ca !== undefined ? String(a.ca) : join(dir, "ca.cert.json");
    if (!existsSync(caPath))
      throw new UsageError("USAGE", `no CA certificate at ${caPath} (use --ca or --dir)`);
    const ca = readCertificateFile(caPath);
    const crlPath =
      a.crl !== undefined
        ? String(a.crl)
        : join(a.ca !== undefined ? dirname(caPath) : dir, "revocations.json");
    let crl: RevocationList | undefined;
    if (existsSync(crlPath)) {
      crl = readJsonFile(crlPath, "revocation list") as RevocationList;
      verifyRevocationList(crl, ca);
    } else if (a.crl !== undefined) {
      throw new UsageError("USAGE", `no revocation list at ${crlPath}`);
    }
    const cert = parseCertificate(readJsonFile(String(a.file), "certificate"));
    try {
      verifyCertificate(cert, ca, Date.now(), crl);
    } catch (e) {
      if (isProtocolError(e)) {
        console.log(`INVALID ${cert.id}: ${e.code}: ${e.message}`);
        process.exitCode = EXIT_RUNTIME;
        return;
      }
      throw e;
    }
    console.log(
      `valid ${cert.role} "${cert.id}" serial ${cert.serial}, issued by "${ca.id}", until ${new Date(cert.notAfter).toISOString()}`,
    );
  },
};

export const caCommand: CommandModule = {
  command: "ca <command>",
  describe: "certificate authority: create it, issue, revoke and verify identities; TLS certificates",
  builder: (y) =>
    y
      .command(init)
      .command(issue)
      .command(revoke)
      .command(publish)
      .command(verify)
      .command(tlsInit)
      .command(tlsServer)
      .command(tlsClient)
      .demandCommand(
        1,
        "name a ca command: init, issue, revoke, publish, verify, tls-init, tls-server or tls-client",
      )
      .strict()
      .example("$0 ca init && $0 ca issue --role aggregator --id agg-1", "a CA and one aggregator"),
  handler: () => undefined,
};
