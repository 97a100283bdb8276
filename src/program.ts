// The Pulumi program: validate everything first (no resource is registered when anything is wrong),
// then build the platform and every tenant. index.ts runs it; the plan, tests and benchmark run it
// under Pulumi's mocks.
import * as pulumi from "@pulumi/pulumi";
import { Platform, PlatformSecrets } from "../components/platform";
import { FactoryInputs, requireFactoryInputs } from "./inputs";
import { OPERATOR_SECRET_KEYS, PROJECT } from "./settings";
import { DnsRecords } from "../components/dnsRecords";
import { tenantDnsRecords } from "./dns/records";

export interface RunOptions {
  /** Stack name; defaults to the current Pulumi stack. */
  stack?: string;
  /** Project root (Pulumi.yaml); defaults to the current directory. */
  projectDir?: string;
  /** Stack settings file; defaults to Pulumi.<stack>.yaml in the project root. */
  stackFile?: string;
  /** Tenant directory; defaults to the tenantsDir setting, else tenants/<stack>. */
  tenantsDir?: string;
}

export interface FactoryOutputs {
  tenants: string[];
  placement: Record<string, string>;
}

export function readSecrets(config: pulumi.Config): PlatformSecrets {
  const out = {} as PlatformSecrets;
  for (const key of OPERATOR_SECRET_KEYS) out[key] = config.requireSecret(key);
  return out;
}

export function runFactory(opts: RunOptions = {}): FactoryOutputs {
  const stack = opts.stack ?? pulumi.getStack();
  const config = new pulumi.Config(PROJECT);
  const inputs: FactoryInputs = requireFactoryInputs({
    stack,
    projectDir: opts.projectDir,
    stackFile: opts.stackFile,
    tenantsDir: opts.tenantsDir ?? (config.get("tenantsDir") || undefined),
  });
  const secrets = readSecrets(config);
  const platform = new Platform("platform", { settings: inputs.settings, secrets });

  // Wiring, one section per area. Each section registers its resources for every tenant it concerns.
  // [section: identity] realm, per-tenant groups/roles (TenantIdentity)
  // [/section: identity]
  // [section: nextcloud] NextcloudFactory
  // [/section: nextcloud]
  // [section: paheko-wordpress-static] PahekoFactory, WordPressMultisite, static sites
  // [/section: paheko-wordpress-static]
  // [section: dns] DNS records for managed tenants
  for (const t of inputs.tenants) {
    const records = tenantDnsRecords(t, inputs.settings);
    if (records.length === 0) continue; // dns: external, archived, or no service
    const dns = inputs.settings.dns;
    new DnsRecords(`${t.slug}-dns`, {
      tenant: t.slug,
      records,
      server: { server: dns.server, port: dns.port },
      tsig: { keyName: dns.tsigKeyName, algorithm: dns.tsigAlgorithm, secret: platform.secrets.dnsTsigSecret },
    });
  }
  // [/section: dns]
  // [section: edge] Caddy edge and compute configs
  // [/section: edge]

  return {
    tenants: inputs.tenants.map((t) => t.slug),
    placement: Object.fromEntries(inputs.placement),
  };
}
