import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NsupdateTarget, renderNsupdateDelete, renderNsupdateShell, renderNsupdateUpsert, renderTsigKeyFile, TsigAlgorithm } from "../src/dns/nsupdate";
import type { DnsRecordSet } from "../src/dns/records";

export interface DnsRecordsArgs {
  /** Slug of the tenant the records belong to. */
  tenant: string;
  /** Record sets to maintain, one per hostname (tenantDnsRecords()); empty = no resource. */
  records: DnsRecordSet[];
  /** Authoritative server accepting RFC 2136 updates; `zone` undefined = found by SOA query (default). */
  server: NsupdateTarget;
  /** TSIG key: name, algorithm and base64 secret (a Pulumi secret). */
  tsig: { keyName: string; algorithm: TsigAlgorithm; secret: pulumi.Input<string> };
}

/**
 * A managed tenant's DNS records, maintained by RFC 2136 updates: one `local.Command` per hostname that
 * runs `nsupdate` on the machine running Pulumi. Create (and any change: the same script runs again)
 * replaces the name's A/AAAA records in one atomic message; delete removes exactly those. The TSIG key
 * reaches nsupdate on stdin (a secret input), never on a command line; logging is off.
 */
export class DnsRecords extends pulumi.ComponentResource {
  /** The hostnames maintained, sorted. */
  readonly hostnames: string[];
  readonly commands: command.local.Command[];

  constructor(name: string, args: DnsRecordsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:dns:DnsRecords", name, { tenant: args.tenant }, opts);
    const keyFile = pulumi.secret(pulumi.output(args.tsig.secret).apply((s) => renderTsigKeyFile(args.tsig.keyName, args.tsig.algorithm, s)));
    this.commands = args.records.map((r) => new command.local.Command(`${name}-${r.hostname}`, {
      create: renderNsupdateShell(renderNsupdateUpsert(args.server, r)),
      delete: renderNsupdateShell(renderNsupdateDelete(args.server, r.hostname)),
      stdin: keyFile,
      interpreter: ["/bin/sh", "-c"],
      logging: "none",
      addPreviousOutputInEnv: false,
    }, { parent: this }));
    this.hostnames = args.records.map((r) => r.hostname).sort();
    this.registerOutputs({ hostnames: this.hostnames });
  }
}
