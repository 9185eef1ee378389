import { join } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { CaDirectory, CaError } from "../../protocol/ca-dir.js";
import type { TlsCa, TlsIssued } from "../../protocol/x509/tls-ca.js";
import { UsageError } from "../exit.js";

/**
 * `gridlet ca tls-*`: the X.509 side of the CA directory (protocol/x509/tls-ca.ts), so that brokers,
 * agents and aggregators get their TLS certificates without anyone writing an openssl command.
 */

const DEFAULT_DIR = process.env.GRIDLET_CA_DIR ?? "./gridlet-ca";
const MAX_TLS_DAYS = 3_650;

const withDir = <T>(y: Argv<T>) =>
  y
    .strict()
    .option("dir", { type: "string", default: DEFAULT_DIR, describe: "CA directory (env GRIDLET_CA_DIR)" });

function checkDays(days: unknown): true {
  if (days === undefined) return true;
  if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > MAX_TLS_DAYS)
    throw new UsageError(
      "USAGE",
      `--days: got ${String(days)}, expected a whole number of days from 1 to ${MAX_TLS_DAYS}`,
    );
  return true;
}

/**
 * The X.509 side, loaded when a command needs it: @peculiar/x509 and its dependencies are about 200
 * modules, which `gridlet ca issue`, `verify` and `revoke` (identity certificates, no X.509) loaded for
 * nothing, about 0.14 s of each run.
 */
async function tlsCa(dir: string): Promise<TlsCa> {
  const { TlsCa } = await import("../../protocol/x509/tls-ca.js");
  return new TlsCa(dir);
}

function printIssued(what: string, t: TlsIssued): void {
  console.log(`issued TLS ${what}, serial ${t.serial}, until ${t.notAfter.toISOString()}`);
  if (t.altNames.length > 0) console.log(`  names:       ${t.altNames.join(", ")}`);
  console.log(`  certificate: ${t.certPath}`);
  console.log(`  key:         ${t.keyPath} (mode 0600)`);
}

/** Creates the TLS CA of a CA directory; `gridlet ca init` calls it too. */
export async function initTlsCa(dir: string, name: string, days: number): Promise<void> {
  const t = await (await tlsCa(dir)).init(name, days);
  console.log(`  TLS CA:      ${t.certPath} (give it to every client: mqtt.tls.ca, broker.tls.ca)`);
  console.log(`  TLS CA key:  ${t.keyPath} (mode 0600)`);
}

export const tlsInit: CommandModule = {
  command: "tls-init",
  describe: "add the X.509 TLS CA to a CA directory made before it existed (gridlet ca init makes both)",
  builder: (y) =>
    withDir(y)
      .option("days", { type: "number", default: 3650, describe: `validity in days (1..${MAX_TLS_DAYS})` })
      .check((a) => checkDays(a.days)),
  handler: async (a) => {
    const ca = new CaDirectory(String(a.dir));
    const id = ca.caCertificate().id;
    console.log(`TLS CA for "${id}" in ${join(ca.dir, "tls")}`);
    await initTlsCa(ca.dir, id, Number(a.days));
  },
};

export const tlsServer: CommandModule = {
  command: "tls-server",
  describe: "issue a broker's TLS server certificate for the names and addresses clients connect to",
  builder: (y) =>
    withDir(y)
      .option("name", {
        type: "string",
        demandOption: true,
        describe: "common name and file name, e.g. the aggregator id: agg-1",
      })
      .option("host", {
        type: "string",
        array: true,
        demandOption: true,
        describe: "a DNS name or IP address clients use (repeat it: --host broker.lan --host 10.0.0.2)",
      })
      .option("days", { type: "number", describe: "validity in days (default 825, at most the CA's)" })
      .check((a) => checkDays(a.days))
      .option("out", {
        type: "string",
        describe: "where to write NAME.server.crt and .key (default DIR/tls)",
      })
      .option("force", {
        type: "boolean",
        default: false,
        describe: "replace an earlier certificate (renewal)",
      })
      .example("$0 ca tls-server --name agg-1 --host gateway.lan --host 192.168.1.10", "for agg-1's broker"),
  handler: async (a) => {
    const t = await (await tlsCa(String(a.dir))).issueServer(
      {
        name: String(a.name),
        hosts: (a.host as string[]).map(String),
        force: Boolean(a.force),
        ...(a.days === undefined ? {} : { validDays: Number(a.days) }),
      },
      a.out === undefined ? undefined : String(a.out),
    );
    printIssued(`server certificate "${a.name}"`, t);
  },
};

export const tlsClient: CommandModule = {
  command: "tls-client",
  describe: "issue a TLS client certificate (CN = identity id) for a broker that requires them (Mosquitto)",
  builder: (y) =>
    withDir(y)
      .option("id", { type: "string", demandOption: true, describe: "an identity this CA issued" })
      .option("days", { type: "number", describe: "validity in days (default 825, at most the CA's)" })
      .check((a) => checkDays(a.days))
      .option("out", { type: "string", describe: "where to write ID.client.crt and .key (default DIR/tls)" })
      .option("force", {
        type: "boolean",
        default: false,
        describe: "replace an earlier certificate (renewal)",
      })
      .example("$0 ca tls-client --id agent-07", "agent-07's client certificate"),
  handler: async (a) => {
    const ca = new CaDirectory(String(a.dir));
    const id = String(a.id);
    // The broker takes the CN as the MQTT username: a typo would make a certificate nobody can use.
    if (!ca.issued().some((c) => c.id === id))
      throw new CaError("NOT_ISSUED", `no identity "${id}" was issued by this CA (gridlet ca issue first)`);
    const t = await (await tlsCa(ca.dir)).issueClient(
      { id, force: Boolean(a.force), ...(a.days === undefined ? {} : { validDays: Number(a.days) }) },
      a.out === undefined ? undefined : String(a.out),
    );
    printIssued(`client certificate "${id}"`, t);
  },
};
