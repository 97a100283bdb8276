import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NsupdateTarget, renderDnsApplyShell, renderDnsDeleteShell, renderTsigKeyFile, TsigAlgorithm } from "../src/dns/nsupdate";
import type { DnsRecordSet } from "../src/dns/records";

export interface DnsRecordsArgs {
  /** Slug of the tenant the records belong to. */
  tenant: string;
  /** Record sets to maintain, one per hostname (tenantDnsRecords()); empty = no command. */
  records: DnsRecordSet[];
  /** Authoritative server accepting RFC 2136 updates; `zone` undefined = found by SOA query (default). */
  server: NsupdateTarget;
  /** TSIG key: name, algorithm and base64 secret (a Pulumi secret). */
  tsig: { keyName: string; algorithm: TsigAlgorithm; secret: pulumi.Input<string> };
}

/**
 * A managed tenant's DNS records, maintained by RFC 2136 updates: ONE `local.Command` per tenant running
 * one `nsupdate` (one update message per name) on the machine running Pulumi.
 * - create: replaces each name's A/AAAA records (atomically per name), prints the names it maintains;
 * - update (any change): the same, plus it deletes the A/AAAA of every name the previous run printed
 *   (the provider hands that stdout over as $PULUMI_COMMAND_STDOUT) that is no longer maintained;
 * - delete: removes the A/AAAA of exactly the names of the last successful run (its inputs).
 * The TSIG key reaches nsupdate on stdin (a secret input), never on a command line; logging is off.
 */
export class DnsRecords extends pulumi.ComponentResource {
  /** The hostnames maintained, sorted. */
  readonly hostnames: string[];
  /** The tenant's nsupdate command; undefined when there are no records. */
  readonly command?: command.local.Command;

  constructor(name: string, args: DnsRecordsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:dns:DnsRecords", name, { tenant: args.tenant }, opts);
    const records = [...args.records].sort((x, y) => (x.hostname < y.hostname ? -1 : x.hostname > y.hostname ? 1 : 0));
    this.hostnames = records.map((r) => r.hostname);
    if (records.length > 0) {
      const { keyName, algorithm } = args.tsig;
      this.command = new command.local.Command(`${name}-records`, {
        create: renderDnsApplyShell(args.server, records, { removePrevious: false }),
        update: renderDnsApplyShell(args.server, records, { removePrevious: true }),
        delete: renderDnsDeleteShell(args.server, this.hostnames),
        stdin: pulumi.secret(pulumi.output(args.tsig.secret).apply((s) => renderTsigKeyFile(keyName, algorithm, s))),
        interpreter: ["/bin/sh", "-c"],
        logging: "none",
        addPreviousOutputInEnv: true,
      }, { parent: this });
    }
    this.registerOutputs({});
  }
}
