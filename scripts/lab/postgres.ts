// A throw-away PostgreSQL server on loopback for the lab tests (Debian's postgresql binaries, run as the
// postgres user when we are root: initdb refuses root). Shared by the tests that need a real server.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./net";

export const PG_BIN = process.env.SF_PG_BIN ?? process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
/**
 * PostgreSQL 16.4, the major the stacks pin (Debian bookworm has only 15): the server binaries of an npm
 * package, installed by scripts/lab/install-postgres-16.sh where the postgres user can run them.
 */
export const PG16_BIN = process.env.SF_PG16_BIN ?? "/usr/local/lib/service-factory/postgresql-16.4/bin";

/** Why no server can be started here from `bin` (default PG_BIN), or undefined. */
export function postgresUnavailable(bin = PG_BIN): string | undefined {
  const missing = ["initdb", "pg_ctl", "postgres"].filter((b) => !fs.existsSync(path.join(bin, b)));
  const how = bin === PG16_BIN ? "scripts/lab/install-postgres-16.sh" : "scripts/lab/install-test-tools.sh";
  return missing.length > 0 ? `PostgreSQL binaries missing in ${bin}: ${missing.join(", ")} (${how})` : undefined;
}

export function asPostgres(cmd: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const r = root ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" }) : spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
}

export interface PostgresServer {
  port: number;
  /** Password of the `postgres` superuser (scram over TCP). */
  adminPassword: string;
  dir: string;
  stop(): void;
}

/** Starts a server from `o.bin` (default PG_BIN: Debian's 15). */
export async function startPostgres(o: { ssl?: boolean; bin?: string } = {}): Promise<PostgresServer> {
  const bin = o.bin ?? PG_BIN;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-pg-"));
  if (process.getuid?.() === 0) {
    const id = (f: string) => Number(spawnSync("id", [f, "postgres"], { encoding: "utf8" }).stdout.trim());
    fs.chownSync(dir, id("-u"), id("-g"));
  }
  const adminPassword = randomBytes(12).toString("hex");
  fs.writeFileSync(path.join(dir, "pw"), adminPassword + "\n", { mode: 0o644 });
  const port = await freePort();
  const data = path.join(dir, "data");
  asPostgres(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${path.join(dir, "pw")}`, "-E", "UTF8", "--no-sync"]);
  let options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`;
  if (o.ssl) {
    asPostgres("openssl", ["req", "-new", "-x509", "-days", "2", "-nodes", "-newkey", "rsa:2048", "-subj", "/CN=postgres", "-keyout", path.join(dir, "server.key"), "-out", path.join(dir, "server.crt")]);
    fs.chmodSync(path.join(dir, "server.key"), 0o600);
    options += ` -c ssl=on -c ssl_cert_file=${dir}/server.crt -c ssl_key_file=${dir}/server.key`;
  }
  asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-l", path.join(dir, "log"), "-w", "-t", "60", "-o", options, "start"]);
  return {
    port, adminPassword, dir,
    stop: () => {
      if (fs.existsSync(path.join(data, "postmaster.pid"))) {
        try { asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]); } catch { /* the tests report what failed */ }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
