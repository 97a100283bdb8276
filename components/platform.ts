import * as docker from "@pulumi/docker";
import * as keycloak from "@pulumi/keycloak";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { computeEndpoints, Endpoints } from "../src/endpoints";
import { factoryNetworkName } from "../src/platform/layout";
import { KEYCLOAK_ADMIN_USER } from "../src/platform/services";
import { imageMajor } from "../src/majors";
import { PROVISIONER_MIN_MAJOR } from "../src/postgres/provisioner";
import { Host, StackSettings } from "../src/types";
import type { GarageS3 } from "./garageBucket";
import { PlatformSecrets } from "./secrets";
import { SharedServices } from "./sharedServices";
import { PostgresLogin, PostgresProvisioner, PostgresServer, provisionedTenantsProvider, TenantPostgresProvider, tenantsProvider } from "./postgresProvisioner";

/** The stack settings Platform reads. */
export type PlatformSettings = Pick<StackSettings, "stack" | "hosts" | "images" | "services" | "domain" | "realm">;

export interface PlatformArgs {
  /** The stack, hosts, images, shared-service modes, domain and realm (the endpoints derive from them). */
  settings: PlatformSettings;
  /** Operator secrets from the stack config. */
  secrets: PlatformSecrets;
  /**
   * A sharded tenant stack sets this: the shared services belong to the platform stack, so nothing is
   * deployed here; the providers point at the same endpoints and the host networks are read by name.
   * Default false.
   */
  reference?: boolean;
  /**
   * A tenant shard's login on the shared PostgreSQL: the platform stack's provisioning role (its
   * `postgresProvisioner` output). Required with `reference`; default none (a whole or platform stack creates the role).
   */
  provisioner?: PostgresLogin;
}

/**
 * The shared layer: one Docker provider per inventory host, the shared services (deployed or external),
 * and the providers that drive them. Tenant components take what they need from its public properties.
 */
export class Platform extends pulumi.ComponentResource {
  /** One Docker provider per inventory host, by host name. */
  readonly docker: Record<string, docker.Provider>;
  /** The shared services this stack deploys (none for services declared external; undefined in a tenant shard). */
  readonly shared?: SharedServices;
  /** The factory network of each host (user bridge network every factory container on that host joins). */
  readonly networks: Record<string, docker.Network>;
  /** Where the shared services answer (plain, serializable values tenant components take). */
  readonly endpoints: Endpoints;
  /**
   * The provider tenant databases are created with, logged in as the provisioning role (never the
   * superuser), in every kind of stack.
   */
  readonly postgres: TenantPostgresProvider;
  /**
   * The superuser's provider: platform-level work only (Keycloak's database, the provisioning role).
   * Undefined in a tenant shard, which never receives the superuser's password.
   */
  readonly postgresAdmin?: postgresql.Provider;
  /** The provisioning role (whole and platform stacks; a shard logs in with the platform stack's). */
  readonly provisioner?: PostgresProvisioner;
  readonly keycloak: keycloak.Provider;
  /**
   * Garage's S3 API with the platform's own key (path-style, region GARAGE_REGION): what GarageBucket needs for
   * CORS rules and first pages, and the resources Garage's readiness hangs on (container, layout, platform key).
   */
  readonly s3: GarageS3;
  readonly secrets: PlatformSecrets;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    // Only the stack name goes to state: settings are large and secrets must never be component args.
    super("factory:platform:Platform", name, { stack: args.settings.stack }, opts);
    this.secrets = args.secrets;
    this.docker = dockerProviders(name, args.settings.hosts, this);
    this.endpoints = computeEndpoints(args.settings);
    // The deployed server makes a self-signed pair on first start: encrypted, not verified (private network).
    const server: PostgresServer = { host: this.endpoints.postgres.host, port: this.endpoints.postgres.port, sslmode: "require", connectTimeout: 15 };
    let keycloakReady: pulumi.Resource[] = [];
    let garageReady: pulumi.Resource[] = [];
    if (args.reference) {
      this.networks = {};
      for (const h of args.settings.hosts) {
        // Read, not owned: the platform stack created it (same logical name, id = the network's name).
        this.networks[h.name] = docker.Network.get(`${name}-shared-net-${h.name}`, factoryNetworkName(args.settings.stack), undefined, { parent: this, provider: this.docker[h.name] });
      }
      if (!args.provisioner) throw new Error("Platform: a tenant shard needs the platform stack's provisioning login (postgresProvisioner output)");
      this.postgres = tenantsProvider(name, server, args.provisioner, this);
    } else {
      // Order on a first deployment: networks, volumes, images -> PostgreSQL container (healthy) -> postgres
      // provider -> Keycloak's role and database -> Keycloak container (healthy) -> keycloak provider; Garage
      // container (healthy) -> layout -> platform key -> every Garage resource (this.s3.ready). See docs/platform.md.
      this.shared = new SharedServices(`${name}-shared`, {
        settings: args.settings,
        endpoints: this.endpoints,
        secrets: args.secrets,
        docker: this.docker,
        postgresServer: server,
      }, { parent: this });
      this.networks = this.shared.networks;
      this.postgresAdmin = this.shared.postgresProvider;
      // The superuser creates the provisioning role; tenant databases are created by that role only.
      ({ provisioner: this.provisioner, provider: this.postgres } = provisionedTenantsProvider(name, { server, admin: this.postgresAdmin }, this));
      const major = deployedPostgresMajor(args.settings);
      if (major !== undefined && major < PROVISIONER_MIN_MAJOR) {
        pulumi.log.warn(`images.postgres is PostgreSQL ${major}: before ${PROVISIONER_MIN_MAJOR}, a CREATEROLE role can grant itself any non-superuser role, so the provisioning role keeps the superuser password out of tenant shards but is no privilege boundary (docs/postgres.md)`, this);
      }
      keycloakReady = this.shared.keycloakReady;
      garageReady = this.shared.garageReady;
    }

    this.keycloak = new keycloak.Provider(`${name}-keycloak`, {
      url: this.endpoints.keycloak.url,
      realm: "master",
      clientId: "admin-cli",
      username: KEYCLOAK_ADMIN_USER,
      password: args.secrets.keycloakAdminPassword,
      // The provider otherwise logs in while planning; with a Keycloak this same update creates, that fails.
      initialLogin: false,
      // Seconds per request (provider default 5): a freshly started Keycloak answers its first token
      // request slowly (key generation, cold JIT), and a busy one may too.
      clientTimeout: 60,
    }, { parent: this, dependsOn: keycloakReady });

    this.s3 = {
      url: this.endpoints.garage.s3Url,
      region: this.endpoints.garage.region,
      accessKeyId: args.secrets.garageS3AccessKeyId,
      secretAccessKey: args.secrets.garageS3SecretAccessKey,
      ready: garageReady,
    };

    this.registerOutputs({ endpoints: this.endpoints });
  }
}

/** The major of the PostgreSQL this stack deploys, or undefined (an external server, a digest pin). */
function deployedPostgresMajor(settings: Pick<StackSettings, "services" | "images">): number | undefined {
  return settings.services.postgres.mode === "deploy" ? imageMajor(settings.images.postgres) : undefined;
}

/** One provider per host: tenants and services on that host use it, nothing else opens SSH connections. */
export function dockerProviders(name: string, hosts: readonly Host[], parent: pulumi.Resource): Record<string, docker.Provider> {
  const out: Record<string, docker.Provider> = {};
  for (const h of hosts) {
    out[h.name] = new docker.Provider(`${name}-docker-${h.name}`, {
      host: h.docker,
      // Keeps SSH connections to the Proxmox hosts non-interactive in CI.
      sshOpts: h.docker.startsWith("ssh://") ? ["-o", "BatchMode=yes", "-o", "ServerAliveInterval=30"] : undefined,
    }, { parent });
  }
  return out;
}
