import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  DnsOwner, NsupdateTarget, renderDnsClaimShell, renderDnsReleaseDroppedShell, renderDnsReleaseShell, renderTsigKeyFile, TsigAlgorithm,
} from "../src/dns/nsupdate";
import type { DnsRecordSet } from "../src/dns/records";

export interface DnsRecordsArgs {
  /** Slug of the tenant the records belong to. */
  tenant: string;
  /** Stack name, written with the tenant in every ownership record (`_sf-owner.<name>` TXT). */
  stack: string;
  /** Record sets to maintain, one per hostname (tenantDnsRecords()); empty = no command. */
  records: DnsRecordSet[];
  /** Authoritative server accepting RFC 2136 updates; `zone` undefined = found by SOA query (default). */
  server: NsupdateTarget;
  /** TSIG key: name, algorithm and base64 secret (a Pulumi secret). */
  tsig: { keyName: string; algorithm: TsigAlgorithm; secret: pulumi.Input<string> };
}

/**
 * A managed tenant's DNS records, maintained by RFC 2136 updates on the machine running Pulumi, with an
 * ownership record beside each name (src/dns/nsupdate.ts): the factory never overwrites or deletes a name
 * it does not own. Two `local.Command`s:
 * - `<name>-release` (created here): on update, releases the names this tenant no longer has (each only if
 *   still its own), then prints the names it has;
 * - `<name>-records` (created by `claim`, after the release commands of every tenant of the stack): create
 *   and update refresh each name that is the tenant's own, claim each that is nobody's, and fail on one that
 *   is someone else's; delete releases its names. So a hostname moved from one tenant to another in one
 *   change is released before it is claimed.
 * The TSIG key reaches nsupdate on stdin (a secret input), never on a command line; logging is off.
 */
export class DnsRecords extends pulumi.ComponentResource {
  /** The hostnames maintained, sorted. */
  readonly hostnames: string[];
  /** Releases dropped names; every tenant's records command of the stack waits for it. */
  readonly release?: command.local.Command;
  /** The claiming command; set by claim(). */
  records?: command.local.Command;

  private readonly name: string;
  private readonly args: DnsRecordsArgs;
  private readonly sorted: DnsRecordSet[];
  private readonly owner: DnsOwner;

  constructor(name: string, args: DnsRecordsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:dns:DnsRecords", name, { tenant: args.tenant }, opts);
    this.name = name;
    this.args = args;
    this.owner = { stack: args.stack, tenant: args.tenant };
    this.sorted = [...args.records].sort((x, y) => (x.hostname < y.hostname ? -1 : x.hostname > y.hostname ? 1 : 0));
    this.hostnames = this.sorted.map((r) => r.hostname);
    if (this.sorted.length > 0) {
      this.release = new command.local.Command(`${name}-release`, {
        create: renderDnsReleaseDroppedShell(args.server, this.sorted, this.owner, { releaseDropped: false }),
        update: renderDnsReleaseDroppedShell(args.server, this.sorted, this.owner, { releaseDropped: true }),
        stdin: this.tsigKeyFile(),
        interpreter: ["/bin/sh", "-c"],
        logging: "none",
        addPreviousOutputInEnv: true,
      }, { parent: this });
    }
    this.registerOutputs({});
  }

  /** Creates the records command, after `releases` (the release commands of every tenant of the stack). */
  claim(releases: pulumi.Resource[]): command.local.Command | undefined {
    if (this.sorted.length === 0) return undefined;
    const a = this.args;
    this.records = new command.local.Command(`${this.name}-records`, {
      create: renderDnsClaimShell(a.server, this.sorted, this.owner),
      delete: renderDnsReleaseShell(a.server, this.hostnames, this.owner),
      stdin: this.tsigKeyFile(),
      interpreter: ["/bin/sh", "-c"],
      logging: "none",
    }, { parent: this, dependsOn: releases });
    return this.records;
  }

  private tsigKeyFile(): pulumi.Output<string> {
    const { keyName, algorithm, secret } = this.args.tsig;
    return pulumi.secret(pulumi.output(secret).apply((s) => renderTsigKeyFile(keyName, algorithm, s)));
  }
}
