import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TlsFilesFor {
  ca: string;
  cert: string;
  key: string;
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/**
 * A throw-away X.509 CA (openssl) with a server certificate for 127.0.0.1 and client certificates whose
 * CN is each given identity: what Mosquitto's use_identity_as_username needs.
 */
export function makeTlsPki(
  dir: string,
  clients: string[],
): { ca: string; server: TlsFilesFor; clients: Record<string, TlsFilesFor> } {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=gridlet-test-ca",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  ]);
  const issue = (name: string, cn: string, ext?: string): TlsFilesFor => {
    openssl(dir, [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    ]);
    const args = [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.crt`,
    ];
    if (ext !== undefined) {
      writeFileSync(join(dir, `${name}.ext`), ext);
      args.push("-extfile", `${name}.ext`);
    }
    openssl(dir, args);
    chmodSync(join(dir, `${name}.key`), 0o600);
    return { ca: join(dir, "ca.crt"), cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  };
  const server = issue("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\n");
  const out: Record<string, TlsFilesFor> = {};
  for (const c of clients) out[c] = issue(`client-${c}`, c);
  return { ca: join(dir, "ca.crt"), server, clients: out };
}
