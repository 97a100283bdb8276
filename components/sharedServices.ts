import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Endpoints } from "../src/endpoints";
import { PostgresServer } from "./postgresProvisioner";
import { renderGarageToml } from "../src/garage/config";
import {
  containerName, deployHost, factoryNetworkName, NETWORK_ALIAS, privatePorts, redisHosts, redisMaxMemoryMb,
  SERVICE_LIMITS, serviceAddressFrom, SharedServiceKey, volumeName, WAIT_TIMEOUT_S,
} from "../src/platform/layout";
import {
  collaboraEnv, collaboraHealthTest, garageHealthTest, KEYCLOAK_CONF, keycloakHealthTest, keycloakJdbcUrl,
  POSTGRES_PATHS, postgresHealthTest, redisCommand, renderGarageKeyImportScript,
  renderGarageLayoutScript, renderKeycloakConf, renderPostgresStart,
} from "../src/platform/render";
import { garageTomlOptions, GARAGE_PATHS, KEYCLOAK_ADMIN_USER, KEYCLOAK_DATABASE, PLATFORM_GARAGE_KEY_NAME } from "../src/platform/services";
import { Host, platformHostnames, StackSettings } from "../src/types";
import { hostPidsLimits, LimitedContainer } from "./pidsLimits";
import { PlatformSecrets } from "./secrets";
import { REDIS_PATHS, REDIS_START_SCRIPT, redisHealthTest, renderRedisBootstrapAcl, sha256Hex } from "../src/platform/redis";
import { hardenedContainer } from "./container";

/** The stack settings SharedServices reads: what is deployed where, with which images, under which names. */
export type SharedServicesSettings = Pick<StackSettings, "stack" | "domain" | "hosts" | "images" | "services">;

export interface SharedServicesArgs {
  /** Which services are deployed (and on which host) or external, their images, the stack and domain. */
  settings: SharedServicesSettings;
  /** Where the shared services answer (computeEndpoints of the same settings). */
  endpoints: Endpoints;
  /** Operator secrets (admin passwords, Garage tokens); only ever passed as Pulumi secrets. */
  secrets: PlatformSecrets;
  /** Docker provider per inventory host, by host name (Platform creates exactly one per host). */
  docker: Record<string, docker.Provider>;
  /**
   * How the superuser reaches the shared PostgreSQL (deployed or external): a provider is made from it
   * (`<name>-postgres-admin`), after a deployed server is healthy, and creates Keycloak's database and the provisioning role.
   */
  postgresServer: PostgresServer;
}

/**
 * The shared services of the platform on their hosts: one factory network per host, PostgreSQL and Garage
 * on their storage host, Redis on every compute host, Keycloak (database on the shared PostgreSQL) and
 * Collabora. A service declared external deploys nothing. Every container: pinned image, protected data
 * volume, memory and process limits, no-new-privileges, ports on the private address only, and a health
 * check that `wait: true` blocks on, so the `*Ready` resources are only created once the service answers.
 */
export class SharedServices extends pulumi.ComponentResource {
  readonly endpoints: Endpoints;
  /** The factory network of each host (user bridge shared by the services and tenant containers there). */
  readonly networks: Record<string, docker.Network> = {};
  /** Deployed containers, keyed `postgres`, `garage`, `keycloak`, `collabora` and `redis-<host>`. */
  readonly containers: Record<string, docker.Container> = {};
  /** The superuser's PostgreSQL provider, created once the deployed server is healthy. */
  readonly postgresProvider: postgresql.Provider;
  /** Resources a provider of that service must wait for (empty for an external service). */
  readonly postgresReady: pulumi.Resource[] = [];
  readonly keycloakReady: pulumi.Resource[] = [];
  readonly garageReady: pulumi.Resource[] = [];

  private readonly settings: SharedServicesSettings;
  private readonly providers: Record<string, docker.Provider>;
  private readonly images = new Map<string, docker.RemoteImage>();
  private readonly baseName: string;
  private readonly limited: (LimitedContainer & { host: string })[] = [];

  constructor(name: string, args: SharedServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:platform:SharedServices", name, {}, opts);
    this.baseName = name;
    this.settings = args.settings;
    this.providers = args.docker;
    this.endpoints = args.endpoints;
    const s = args.settings;
    const names = platformHostnames(s.domain);

    for (const h of s.hosts) {
      this.networks[h.name] = new docker.Network(`${name}-net-${h.name}`, {
        name: factoryNetworkName(s.stack),
        driver: "bridge",
        // Containers of one host talk to each other here; nothing outside reaches it except published ports.
        labels: [{ label: "service-factory.stack", value: s.stack }],
      }, { parent: this, provider: this.provider(h.name) });
    }

    // PostgreSQL (storage host): TLS with a self-signed pair made on first start, superuser password as a file.
    const pgHost = deployHost(s, s.services.postgres);
    if (pgHost) {
      const pg = this.container("postgres", pgHost, {
        volumeTarget: POSTGRES_PATHS.dataRoot,
        entrypoints: ["/bin/bash", "-c", renderPostgresStart({ maxConnections: 300, sharedBuffersMb: 512 })],
        envs: [`POSTGRES_PASSWORD_FILE=${POSTGRES_PATHS.passwordFile}`, `PGDATA=${POSTGRES_PATHS.pgdata}`, "POSTGRES_INITDB_ARGS=--data-checksums"],
        uploads: [{ file: POSTGRES_PATHS.passwordFile, content: pulumi.secret(args.secrets.postgresAdminPassword), owner: "999", group: "999", permissions: "0400" }],
        healthcheck: { tests: postgresHealthTest(), interval: "5s", timeout: "5s", retries: 5, startPeriod: "1m0s" },
        shmSize: 256,
        stopTimeout: 60,
      });
      this.postgresReady.push(pg);
    }
    this.postgresProvider = new postgresql.Provider(`${name}-postgres-admin`, {
      host: args.postgresServer.host,
      port: args.postgresServer.port,
      username: "postgres",
      password: args.secrets.postgresAdminPassword,
      sslmode: args.postgresServer.sslmode,
      superuser: true,
      connectTimeout: args.postgresServer.connectTimeout,
    }, { parent: this, dependsOn: [...this.postgresReady] });

    // Redis on every compute host: reached by its alias on that host's network, no published port. Its
    // admin is `default` with the operator's redisAdminPassword (a hash in the uploaded bootstrap ACL);
    // tenants get their own users at run time (NextcloudInstance), so a new tenant restarts nothing.
    const redisBootstrap = pulumi.secret(pulumi.output(args.secrets.redisAdminPassword).apply((pw) => renderRedisBootstrapAcl(sha256Hex(pw))));
    for (const h of redisHosts(s.hosts)) {
      this.container("redis", h, {
        key: `redis-${h.name}`,
        volumeTarget: "/data",
        entrypoints: [REDIS_PATHS.start],
        command: redisCommand(redisMaxMemoryMb()),
        uploads: [
          { file: REDIS_PATHS.start, content: REDIS_START_SCRIPT, permissions: "0555" },
          { file: REDIS_PATHS.bootstrap, content: redisBootstrap, permissions: "0400" },
        ],
        healthcheck: { tests: redisHealthTest(), interval: "5s", timeout: "3s", retries: 5, startPeriod: "10s" },
      });
    }

    // Garage (storage host): garage.toml + secret files, then the single-node layout and the platform key.
    const garageHost = deployHost(s, s.services.garage);
    if (garageHost) {
      const toml = renderGarageToml(garageTomlOptions(s, garageHost));
      const garage = this.container("garage", garageHost, {
        volumeTarget: GARAGE_PATHS.root,
        uploads: [
          { file: GARAGE_PATHS.config, content: toml, permissions: "0644" },
          { file: GARAGE_PATHS.rpcSecretFile, content: pulumi.secret(args.secrets.garageRpcSecret), permissions: "0600" },
          { file: GARAGE_PATHS.adminTokenFile, content: pulumi.secret(args.secrets.garageAdminToken), permissions: "0600" },
        ],
        healthcheck: { tests: garageHealthTest(), interval: "5s", timeout: "5s", retries: 10, startPeriod: "10s" },
      });
      const layout = new command.local.Command(`${name}-garage-layout`, {
        create: garage.name.apply((c) => renderGarageLayoutScript({ container: c, zone: garageHost.name, capacity: "1T" })),
        environment: { DOCKER_HOST: garageHost.docker },
        // Re-applied (a no-op once a layout exists) whenever the container is replaced.
        triggers: [garage.id],
        logging: "stdoutAndStderr",
      }, { parent: this, dependsOn: [garage] });
      const key = new command.local.Command(`${name}-garage-platform-key`, {
        create: renderGarageKeyImportScript({ adminUrl: this.endpoints.garage.adminUrl, keyName: PLATFORM_GARAGE_KEY_NAME }),
        environment: {
          GARAGE_ADMIN_TOKEN: pulumi.secret(args.secrets.garageAdminToken),
          GARAGE_KEY_ID: pulumi.secret(args.secrets.garageS3AccessKeyId),
          GARAGE_KEY_SECRET: pulumi.secret(args.secrets.garageS3SecretAccessKey),
        },
        triggers: [garage.id],
        logging: "none",
      }, { parent: this, dependsOn: [garage, layout] });
      this.garageReady.push(garage, layout, key);
    }

    // Keycloak: its own role and database on the shared PostgreSQL (deployed or external), config as a file.
    const kcHost = deployHost(s, s.services.keycloak);
    if (kcHost) {
      const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };
      const pgOpts: pulumi.CustomResourceOptions = { ...keep, provider: this.postgresProvider };
      const dbPassword = new random.RandomPassword(`${name}-keycloak-db-password`, { length: 32, special: false }, keep);
      const role = new postgresql.Role(`${name}-keycloak-db-role`, {
        name: KEYCLOAK_DATABASE,
        login: true,
        password: dbPassword.result,
        superuser: false,
        createDatabase: false,
        createRole: false,
        replication: false,
        connectionLimit: 100,
      }, pgOpts);
      const db = new postgresql.Database(`${name}-keycloak-db`, {
        name: KEYCLOAK_DATABASE,
        owner: role.name,
        template: "template0",
        encoding: "UTF8",
      }, pulumi.mergeOptions(pgOpts, { dependsOn: [role] }));
      const revoke = new postgresql.Grant(`${name}-keycloak-db-revoke-public`, {
        database: db.name,
        objectType: "database",
        role: "public",
        privileges: [],
      }, { parent: this, provider: this.postgresProvider, dependsOn: [db] });

      const pgAddr = serviceAddressFrom(s, "postgres", kcHost.name, this.endpoints.postgres.port);
      const conf = pulumi.secret(pulumi.all([dbPassword.result, args.secrets.keycloakAdminPassword]).apply(([dbPw, adminPw]) =>
        renderKeycloakConf({
          dbUrl: keycloakJdbcUrl(pgAddr.host, pgAddr.port, KEYCLOAK_DATABASE),
          dbUsername: KEYCLOAK_DATABASE,
          dbPassword: dbPw,
          hostname: `https://${names.sso}`,
          adminUsername: KEYCLOAK_ADMIN_USER,
          adminPassword: adminPw,
        })));
      const kc = this.container("keycloak", kcHost, {
        volumeTarget: "/opt/keycloak/data",
        command: ["start"],
        uploads: [{ file: KEYCLOAK_CONF, content: conf, owner: "1000", group: "0", permissions: "0400" }],
        healthcheck: { tests: keycloakHealthTest(), interval: "10s", timeout: "5s", retries: 6, startPeriod: "2m0s" },
        dependsOn: [db, revoke, ...this.postgresReady],
      });
      this.keycloakReady.push(kc);
    }

    // Collabora (CODE): stateless (documents live in Nextcloud), TLS terminated by the edge.
    const coolHost = deployHost(s, s.services.collabora);
    if (coolHost) {
      this.container("collabora", coolHost, {
        // The same for any tenant list: the WOPI hosts come from the edge (renderCollaboraRemoteConfig).
        envs: collaboraEnv({ serverName: names.collabora }),
        healthcheck: { tests: collaboraHealthTest(), interval: "10s", timeout: "5s", retries: 6, startPeriod: "1m0s" },
      });
    }

    // The pids cgroup limit of each container (SERVICE_LIMITS.*.pids), one command per host.
    for (const h of s.hosts) {
      const containers = this.limited.filter((c) => c.host === h.name);
      if (containers.length > 0) hostPidsLimits(`${name}-${h.name}-pids`, { dockerHost: h.docker, containers }, { parent: this });
    }

    this.registerOutputs({ endpoints: this.endpoints });
  }

  private provider(host: string): docker.Provider {
    const p = this.providers[host];
    if (!p) throw new Error(`no Docker provider for host ${host}`);
    return p;
  }

  /** The pinned image of a service on one host (one RemoteImage per host: each host pulls its own). */
  private image(svc: SharedServiceKey, host: string): docker.RemoteImage {
    const key = `${svc}-${host}`;
    let img = this.images.get(key);
    if (!img) {
      img = new docker.RemoteImage(`${this.baseName}-image-${key}`, {
        name: this.settings.images[svc],
        // Removing the resource must not delete an image a tenant container may still run.
        keepLocally: true,
      }, { parent: this, provider: this.provider(host) });
      this.images.set(key, img);
    }
    return img;
  }

  /** One hardened service container (and its protected data volume when volumeTarget is given). */
  private container(svc: SharedServiceKey, host: Host, o: ContainerSpec): docker.Container {
    const key = o.key ?? svc;
    const provider = this.provider(host.name);
    const limits = SERVICE_LIMITS[svc];
    const multi = svc === "redis";
    const mounts: docker.types.input.ContainerMount[] = [];
    if (o.volumeTarget) {
      const volume = new docker.Volume(`${this.baseName}-${key}-data`, {
        name: volumeName(this.settings.stack, svc, multi ? host.name : undefined),
        labels: [{ label: "service-factory.stack", value: this.settings.stack }],
      }, { parent: this, provider, protect: true, retainOnDelete: true });
      mounts.push({ type: "volume", source: volume.name, target: o.volumeTarget });
    }
    const image = this.image(svc, host.name);
    const c = new docker.Container(`${this.baseName}-${key}`, hardenedContainer({
      name: containerName(this.settings.stack, svc),
      image: image.imageId,
      entrypoints: o.entrypoints,
      command: o.command,
      envs: o.envs,
      uploads: o.uploads,
      mounts,
      networksAdvanced: [{ name: this.networks[host.name].name, aliases: [NETWORK_ALIAS[svc]] }],
      ports: privatePorts(svc, host.privateAddress),
      memory: limits.memoryMb,
      memorySwap: limits.memoryMb,
      shmSize: o.shmSize,
      stopTimeout: o.stopTimeout,
      healthcheck: o.healthcheck,
      wait: true,
      waitTimeout: WAIT_TIMEOUT_S[svc],
      labels: [{ label: "service-factory.stack", value: this.settings.stack }, { label: "service-factory.service", value: svc }],
    }, { maxSize: "20m", maxFiles: 5 }), { parent: this, provider, dependsOn: o.dependsOn });
    this.containers[key] = c;
    this.limited.push({ resource: c, name: containerName(this.settings.stack, svc), pids: limits.pids, host: host.name });
    return c;
  }
}

interface ContainerSpec {
  /** Key in `containers` and suffix of the Pulumi names; default the service name. */
  key?: string;
  /** Mount point of the protected data volume; none for a stateless service. */
  volumeTarget?: string;
  entrypoints?: string[];
  command?: string[];
  envs?: string[];
  uploads?: docker.types.input.ContainerUpload[];
  /**
   * Durations in Go's canonical form ("1m0s", not "60s"): the provider stores what Docker reads back, so
   * any other spelling is a change on every run.
   */
  healthcheck: docker.types.input.ContainerHealthcheck;
  /** Size of /dev/shm in MiB. */
  shmSize?: number;
  stopTimeout?: number;
  dependsOn?: pulumi.Resource[];
}
