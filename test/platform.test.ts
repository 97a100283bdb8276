// The shared platform under Pulumi's mocks: Docker providers per host, the shared services on the right
// hosts with their mounts, limits, private-only ports and protected volumes, external services deploying
// nothing, providers waiting for readiness, and no secret ever in a plain input.
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../components/platform";
import { renderGarageToml } from "../src/garage/config";
import { maskSecrets, RecordedResource, revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";
import { readSecrets } from "../program/factory";
import { factoryNetworkName, SERVICE_LIMITS, SharedServiceKey } from "../src/platform/layout";
import { renderPidsLimitScript } from "../src/platform/pids";
import { collaboraEnv, renderGarageKeyImportScript, renderGarageLayoutScript } from "../src/platform/render";
import { garageTomlOptions } from "../src/platform/services";
import { loadStackFile, OperatorSecret, PROJECT } from "../src/settings";
import { StackSettings } from "../src/types";

const ROOT = path.join(__dirname, "..");
const FIXTURES = path.join(__dirname, "fixtures", "platform");

/** Distinctive values: any of them found in a non-secret input string is a leak. */
const SECRETS: Record<OperatorSecret, string> = {
  postgresAdminPassword: "pg-admin-Secret-7f3a9c",
  keycloakAdminPassword: "kc-admin-Secret-2b8e41",
  garageAdminToken: "garage-admin-token-Secret-91d0",
  garageRpcSecret: "4f0c2a9e1b7d3c5a8e6f0b2d4c6a8e0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b",
  garageS3AccessKeyId: "GK0123456789abcdef01234567",
  garageS3SecretAccessKey: "s3secretValue0123456789abcdef0123456789abcdef0123456789abcdef0123",
  dnsTsigSecret: Buffer.from("tsig-Secret-value-for-tests-only!").toString("base64"),
  smtpPassword: "smtp-Secret-55aa",
  redisAdminPassword: "redis-admin-Secret-c0ffee",
};

function settingsOf(stack: string, file: string): StackSettings {
  const { settings, problems } = loadStackFile(stack, file);
  assert.deepEqual(problems, []);
  return settings!;
}

/** What Platform.s3 hands the Garage buckets, as plain values: no resource of its own. */
interface S3Seen { url: string; region: string; accessKeyId: string; secretAccessKey: string; ready: string[]; secret: boolean }

async function run(stack: string, file: string) {
  const settings = settingsOf(stack, file);
  let s3: Promise<S3Seen> | undefined;
  const result = await runUnderMocks({
    stack,
    projectDir: ROOT,
    stackFile: file,
    secrets: SECRETS,
    program: () => {
      const platform = new Platform("platform", { settings, secrets: readSecrets(new pulumi.Config(PROJECT)) });
      const p = platform.s3;
      const id = pulumi.output(p.accessKeyId), secret = pulumi.output(p.secretAccessKey);
      s3 = new Promise((resolve) => pulumi.all([id, secret, pulumi.all(p.ready.map((r) => r.urn)), pulumi.isSecret(id), pulumi.isSecret(secret)])
        .apply(([accessKeyId, secretAccessKey, ready, a, b]) => resolve({ url: p.url, region: p.region, accessKeyId, secretAccessKey, ready, secret: a && b })));
      return { endpoints: platform.endpoints };
    },
  });
  return { settings, resources: result.resources, s3: await s3! };
}

const byType = (rs: RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const one = (rs: RecordedResource[], name: string) => {
  const found = rs.filter((r) => r.name === name);
  assert.equal(found.length, 1, `expected exactly one resource named ${name}`);
  return found[0];
};
const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const NETWORK = "docker:index/network:Network";
const COMMAND = "command:local:Command";

/** Host name of a resource, from the URN of its Docker provider. */
function hostOf(r: RecordedResource, providers: RecordedResource[]): string {
  assert.ok(r.provider, `${r.name} has no explicit provider`);
  const urn = r.provider!.split("::").slice(0, -1).join("::");
  const p = providers.find((x) => x.urn === urn);
  assert.ok(p, `${r.name}: provider ${r.provider} is not a Docker provider of the platform`);
  return p!.name.replace(/^platform-docker-/, "");
}

/** Every string of the non-secret part of a value (secrets masked out). */
function plainStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => plainStrings(v, out));
  else if (value && typeof value === "object") Object.entries(value).forEach(([k, v]) => { out.push(k); plainStrings(v, out); });
  return out;
}

function serviceOf(r: RecordedResource): string {
  const labels = (r.inputs.labels ?? []) as { label: string; value: string }[];
  return labels.find((l) => l.label === "service-factory.service")!.value;
}

/** The checks every deployed shared-service container must pass. */
function assertHardened(c: RecordedResource, privateAddress: string, settings: StackSettings): void {
  const svc = serviceOf(c) as SharedServiceKey;
  const i = c.inputs;
  const limits = SERVICE_LIMITS[svc];
  assert.equal(i.memory, limits.memoryMb, `${c.name} memory`);
  assert.equal(i.memorySwap, limits.memoryMb, `${c.name} swap`);
  // No RLIMIT_NPROC: it counts every process of the UID on the whole host (see assertPidsLimits).
  assert.equal(i.ulimits, undefined, `${c.name} has no nproc ulimit`);
  assert.deepEqual(i.securityOpts, ["no-new-privileges:true"], `${c.name} no-new-privileges`);
  assert.equal(i.restart, "unless-stopped");
  assert.equal(i.wait, true, `${c.name} waits for health`);
  assert.ok(typeof i.waitTimeout === "number" && i.waitTimeout >= 60);
  const hc = i.healthcheck as { tests: string[] };
  assert.ok(hc.tests.length >= 2 && ["CMD", "CMD-SHELL"].includes(hc.tests[0]), `${c.name} health check`);
  assert.equal(i.privileged, undefined);
  assert.equal(i.networkMode, undefined, "never host networking");
  assert.equal(i.publishAllPorts, undefined);
  const ports = (i.ports ?? []) as { ip: string; internal: number; external: number }[];
  for (const p of ports) {
    assert.equal(p.ip, privateAddress, `${c.name} publishes ${p.internal} on ${p.ip}`);
    assert.notEqual(p.ip, "0.0.0.0");
  }
  if (svc === "redis") assert.deepEqual(ports, [], "Redis publishes nothing");
  assert.deepEqual(i.networksAdvanced, [{ name: factoryNetworkName(settings.stack), aliases: [svc] }]);
}

/**
 * One `<component>-<host>-pids` command per host with containers: the pids cgroup limit of each of that
 * host's containers (SERVICE_LIMITS.*.pids), run against that host's engine, after the containers, again
 * whenever one of them is replaced; nothing but names, numbers and ids in its inputs. Returns the commands.
 */
function assertPidsLimits(resources: RecordedResource[], providers: RecordedResource[], settings: StackSettings): RecordedResource[] {
  const containers = byType(resources, CONTAINER);
  const commands = byType(resources, COMMAND).filter((c) => c.name.endsWith("-pids"));
  const hosts = [...new Set(containers.map((c) => hostOf(c, providers)))].sort();
  assert.deepEqual(commands.map((c) => c.name).sort(), hosts.map((h) => `platform-shared-${h}-pids`));
  for (const h of hosts) {
    const cmd = one(resources, `platform-shared-${h}-pids`);
    const onHost = containers.filter((c) => hostOf(c, providers) === h).sort((a, b) => (String(a.inputs.name) < String(b.inputs.name) ? -1 : 1));
    assert.deepEqual(cmd.inputs, {
      create: renderPidsLimitScript(onHost.map((c) => ({ container: String(c.inputs.name), pids: SERVICE_LIMITS[serviceOf(c) as SharedServiceKey].pids }))),
      environment: { DOCKER_HOST: settings.hosts.find((x) => x.name === h)!.docker },
      triggers: onHost.map((c) => `${c.name}-id`),
      logging: "stdoutAndStderr",
    }, `${cmd.name} inputs`);
    assert.deepEqual([...cmd.dependsOn].sort(), onHost.map((c) => c.urn).sort(), `${cmd.name} runs after its containers`);
  }
  return commands;
}

function assertNoPlainSecret(resources: RecordedResource[]): void {
  const values = Object.values(SECRETS);
  for (const r of resources) {
    for (const s of plainStrings(maskSecrets(r.inputs))) {
      for (const v of values) assert.ok(!s.includes(v), `${r.type} ${r.name}: a secret appears in a plain input`);
    }
  }
}

describe("platform on the staging stack", () => {
  let settings: StackSettings, resources: RecordedResource[], providers: RecordedResource[], containers: RecordedResource[], s3: S3Seen;
  before(async () => {
    ({ settings, resources, s3 } = await run("staging", path.join(ROOT, "Pulumi.staging.yaml")));
    providers = byType(resources, "pulumi:providers:docker");
    containers = byType(resources, CONTAINER);
  });
  const host = (name: string) => settings.hosts.find((h) => h.name === name)!;

  it("has exactly one Docker provider per inventory host, at its endpoint", () => {
    assert.deepEqual(providers.map((p) => p.name).sort(), settings.hosts.map((h) => `platform-docker-${h.name}`).sort());
    for (const p of providers) assert.equal(p.inputs.host, host(p.name.replace("platform-docker-", "")).docker);
    // Every Docker resource uses one of them.
    for (const r of resources.filter((x) => x.type.startsWith("docker:"))) hostOf(r, providers);
  });

  it("creates one factory bridge network per host", () => {
    const nets = byType(resources, NETWORK);
    assert.equal(nets.length, settings.hosts.length);
    assert.deepEqual(nets.map((n) => hostOf(n, providers)).sort(), settings.hosts.map((h) => h.name).sort());
    for (const n of nets) {
      assert.equal(n.inputs.name, "factory-staging");
      assert.equal(n.inputs.driver, "bridge");
      assert.ok(n.name.startsWith("platform-shared-net-"));
    }
  });

  it("places each shared service on its host: PostgreSQL and Garage on storage, Redis on every compute host", () => {
    const placed = containers.map((c) => `${serviceOf(c)}@${hostOf(c, providers)}`).sort();
    assert.deepEqual(placed, [
      "collabora@stg-compute2", "garage@stg-storage1", "keycloak@stg-compute1",
      "postgres@stg-storage1", "redis@stg-compute1", "redis@stg-compute2",
    ]);
  });

  it("hardens every container: limits, no-new-privileges, health wait, private-only ports", () => {
    for (const c of containers) assertHardened(c, host(hostOf(c, providers)).privateAddress, settings);
    const ports = (name: string) => ((one(resources, name).inputs.ports ?? []) as { external: number }[]).map((p) => p.external);
    assert.deepEqual(ports("platform-shared-postgres"), [5432]);
    assert.deepEqual(ports("platform-shared-garage"), [3900, 3901, 3902, 3903]);
    assert.deepEqual(ports("platform-shared-keycloak"), [8080]);
    assert.deepEqual(ports("platform-shared-collabora"), [9980]);
  });

  it("sets each container's pids cgroup limit with one command per host", () => {
    assert.equal(assertPidsLimits(resources, providers, settings).length, 3);
    // The storage host's, spelled out: one docker update per distinct limit, then a read-back.
    assert.equal(one(resources, "platform-shared-stg-storage1-pids").inputs.create, [
      "set -eu",
      "docker update --pids-limit 1024 staging-garage >/dev/null",
      "docker update --pids-limit 2048 staging-postgres >/dev/null",
      "got=$(docker inspect -f '{{.Name}} {{.HostConfig.PidsLimit}}' staging-garage staging-postgres)",
      "want='/staging-garage 1024\n/staging-postgres 2048'",
      `[ "$got" = "$want" ] || { printf 'pids limits not applied:\\n%s\\n' "$got" >&2; exit 1; }`,
      'echo "pids limits set: staging-garage=1024 staging-postgres=2048"',
      "",
    ].join("\n"));
  });

  it("mounts one protected, retained volume per stateful container, read-write, on the same host", () => {
    const expected: Record<string, [string, string]> = {
      "platform-shared-postgres": ["staging-postgres-data", "/var/lib/postgresql/data"],
      "platform-shared-garage": ["staging-garage-data", "/var/lib/garage"],
      "platform-shared-keycloak": ["staging-keycloak-data", "/opt/keycloak/data"],
      "platform-shared-redis-stg-compute1": ["staging-redis-stg-compute1-data", "/data"],
      "platform-shared-redis-stg-compute2": ["staging-redis-stg-compute2-data", "/data"],
    };
    const volumes = byType(resources, VOLUME);
    assert.equal(volumes.length, Object.keys(expected).length);
    for (const [name, [volume, target]] of Object.entries(expected)) {
      const c = one(resources, name);
      assert.deepEqual(c.inputs.mounts, [{ type: "volume", source: volume, target }]);
      const v = volumes.find((x) => x.inputs.name === volume)!;
      assert.ok(v, `volume ${volume}`);
      assert.equal(v.protect, true);
      assert.equal(v.retainOnDelete, true);
      assert.equal(hostOf(v, providers), hostOf(c, providers));
      assert.ok(c.dependsOn.includes(v.urn));
    }
    assert.deepEqual(one(resources, "platform-shared-collabora").inputs.mounts, [], "Collabora is stateless");
  });

  it("pulls each pinned image once per host and keeps it locally", () => {
    const images = byType(resources, IMAGE);
    assert.equal(images.length, 6);
    for (const c of containers) {
      const svc = serviceOf(c) as SharedServiceKey;
      const img = images.find((i) => c.dependsOn.includes(i.urn));
      assert.ok(img, `${c.name} depends on its image`);
      assert.equal(img!.inputs.name, settings.images[svc]);
      assert.equal(img!.inputs.keepLocally, true);
      assert.equal(hostOf(img!, providers), hostOf(c, providers));
    }
  });

  it("gives Garage its rendered garage.toml and its secrets as 0600 files", () => {
    const g = one(resources, "platform-shared-garage");
    // The list holds secrets, so the engine receives it as one secret value.
    assert.deepEqual(Object.keys(g.inputs.uploads as object), [SECRET_MARK]);
    const uploads = revealSecrets(g.inputs.uploads) as { file: string; content: string; permissions: string }[];
    assert.deepEqual(uploads.map((u) => u.file), ["/etc/garage.toml", "/run/secrets/garage-rpc-secret", "/run/secrets/garage-admin-token"]);
    assert.equal(uploads[0].content, renderGarageToml(garageTomlOptions(settings, host("stg-storage1"))));
    assert.match(uploads[0].content, /rpc_public_addr = "10\.20\.0\.20:3901"/);
    assert.ok(!uploads[0].content.includes(SECRETS.garageRpcSecret) && !uploads[0].content.includes(SECRETS.garageAdminToken));
    assert.equal(uploads[1].content, SECRETS.garageRpcSecret);
    assert.equal(uploads[2].content, SECRETS.garageAdminToken);
    assert.deepEqual(uploads.map((u) => u.permissions), ["0644", "0600", "0600"]);
  });

  it("applies the Garage layout once the container is healthy, then imports the platform key without logging", () => {
    const g = one(resources, "platform-shared-garage");
    const layout = one(resources, "platform-shared-garage-layout");
    const key = one(resources, "platform-shared-garage-platform-key");
    assert.equal(byType(resources, COMMAND).filter((c) => !c.name.endsWith("-pids")).length, 2);
    assert.equal(layout.inputs.create, renderGarageLayoutScript({ container: "staging-garage", zone: "stg-storage1", capacity: "1T" }));
    assert.deepEqual(layout.inputs.environment, { DOCKER_HOST: "ssh://deploy@stg-storage1.internal" });
    assert.ok(layout.dependsOn.includes(g.urn));
    assert.equal(key.inputs.create, renderGarageKeyImportScript({ adminUrl: "http://10.20.0.20:3903", keyName: "platform" }));
    assert.equal(key.inputs.logging, "none");
    assert.deepEqual(key.inputs.environment, { [SECRET_MARK]: {
      GARAGE_ADMIN_TOKEN: SECRETS.garageAdminToken,
      GARAGE_KEY_ID: SECRETS.garageS3AccessKeyId,
      GARAGE_KEY_SECRET: SECRETS.garageS3SecretAccessKey,
    } });
    assert.ok(key.dependsOn.includes(g.urn) && key.dependsOn.includes(layout.urn));
  });

  it("creates Keycloak's protected role and database on the shared PostgreSQL before Keycloak starts", () => {
    const pgProvider = one(resources, "platform-shared-postgres-admin");
    const role = one(resources, "platform-shared-keycloak-db-role");
    const db = one(resources, "platform-shared-keycloak-db");
    const pw = one(resources, "platform-shared-keycloak-db-password");
    for (const r of [role, db, pw]) assert.ok(r.protect && r.retainOnDelete, `${r.name} protected`);
    for (const r of [role, db]) assert.ok(r.provider!.startsWith(pgProvider.urn + "::"));
    assert.equal(role.inputs.name, "keycloak");
    assert.equal(role.inputs.superuser, false);
    assert.equal(role.inputs.createDatabase, false);
    assert.equal(role.inputs.createRole, false);
    assert.ok((role.inputs.password as Record<string, unknown>)[SECRET_MARK], "role password is secret");
    assert.equal(db.inputs.owner, "keycloak");
    const revoke = one(resources, "platform-shared-keycloak-db-revoke-public");
    assert.deepEqual([revoke.inputs.role, revoke.inputs.privileges], ["public", []]);
    const kc = one(resources, "platform-shared-keycloak");
    for (const dep of [db, revoke, one(resources, "platform-shared-postgres")]) assert.ok(kc.dependsOn.includes(dep.urn), `keycloak waits for ${dep.name}`);
    assert.deepEqual(kc.inputs.command, ["start"]);
    assert.equal(kc.inputs.envs, undefined, "Keycloak gets its settings from keycloak.conf only");
    assert.deepEqual(Object.keys(kc.inputs.uploads as object), [SECRET_MARK], "keycloak.conf is secret");
    const conf = (revealSecrets(kc.inputs.uploads) as { file: string; content: string; owner: string; permissions: string }[])[0];
    assert.deepEqual([conf.file, conf.owner, conf.permissions], ["/opt/keycloak/conf/keycloak.conf", "1000", "0400"]);
    const text = conf.content;
    assert.match(text, /^db-url=jdbc:postgresql:\/\/10\.20\.0\.20:5432\/keycloak\?sslmode=require$/m, "another host: private address");
    assert.match(text, new RegExp(`^bootstrap-admin-password=${SECRETS.keycloakAdminPassword}$`, "m"));
    assert.match(text, /^db-password=mock-platform-shared-keycloak-db-password-x{32}$/m);
    assert.match(text, /^hostname=https:\/\/auth\.staging\.factory\.example\.org$/m);
  });

  it("makes each provider depend on its service's readiness", () => {
    const urn = (n: string) => one(resources, n).urn;
    const pg = one(resources, "platform-shared-postgres-admin");
    assert.deepEqual(pg.dependsOn, [urn("platform-shared-postgres")]);
    assert.equal(pg.inputs.host, "10.20.0.20");
    assert.equal(pg.inputs.sslmode, "require");
    const kc = one(resources, "platform-keycloak");
    assert.deepEqual(kc.dependsOn, [urn("platform-shared-keycloak")]);
    assert.equal(kc.inputs.url, "http://10.20.0.11:8080");
    // Garage has no provider resource: every Garage resource waits for what Platform.s3.ready lists.
    assert.deepEqual([...s3.ready].sort(), [urn("platform-shared-garage"), urn("platform-shared-garage-layout"), urn("platform-shared-garage-platform-key")].sort());
    assert.deepEqual(resources.filter((r) => r.type.startsWith("pulumi:providers:")).map((r) => r.type.split(":")[2]).sort(),
      [...settings.hosts.map(() => "docker"), "keycloak", "postgresql", "postgresql"]);
  });

  it("hands the Garage buckets the S3 endpoint, the region and the platform key as secrets", () => {
    assert.deepEqual(s3, {
      url: "http://10.20.0.20:3900", region: "garage", accessKeyId: SECRETS.garageS3AccessKeyId, secretAccessKey: SECRETS.garageS3SecretAccessKey,
      ready: s3.ready, secret: true,
    });
  });

  it("never puts a secret in a plain input, and passes each one as a secret where it is used", () => {
    assertNoPlainSecret(resources);
    const revealed = JSON.stringify(resources.map((r) => revealSecrets(r.inputs)));
    for (const k of ["postgresAdminPassword", "keycloakAdminPassword", "garageAdminToken", "garageRpcSecret", "garageS3AccessKeyId", "garageS3SecretAccessKey"] as const) {
      assert.ok(revealed.includes(SECRETS[k]), `${k} reaches its consumer`);
    }
    const pgUploads = one(resources, "platform-shared-postgres").inputs.uploads;
    assert.deepEqual(Object.keys(pgUploads as object), [SECRET_MARK]);
    const pgUpload = (revealSecrets(pgUploads) as { content: string; owner: string; permissions: string }[])[0];
    assert.equal(pgUpload.content, SECRETS.postgresAdminPassword);
    assert.deepEqual([pgUpload.owner, pgUpload.permissions], ["999", "0400"]);
  });

  it("gives Collabora the same environment whatever the tenants: its WOPI hosts come from the edge", () => {
    assert.deepEqual(one(resources, "platform-shared-collabora").inputs.envs, collaboraEnv({ serverName: "office.staging.factory.example.org" }));
  });
});

describe("platform on a fixture with two compute hosts and an external PostgreSQL", () => {
  let settings: StackSettings, resources: RecordedResource[], providers: RecordedResource[], containers: RecordedResource[];
  before(async () => {
    ({ settings, resources } = await run("fixture", path.join(FIXTURES, "Pulumi.fixture.yaml")));
    providers = byType(resources, "pulumi:providers:docker");
    containers = byType(resources, CONTAINER);
  });

  it("deploys nothing for PostgreSQL and points the provider at the endpoint", () => {
    assert.equal(providers.length, 4);
    assert.deepEqual(containers.map((c) => `${serviceOf(c)}@${hostOf(c, providers)}`).sort(), [
      "collabora@fx-c1", "garage@fx-store", "keycloak@fx-c2", "redis@fx-c1", "redis@fx-c2",
    ]);
    assert.ok(!resources.some((r) => /postgres/.test(String(r.inputs.name ?? "")) && r.type.startsWith("docker:")));
    const pg = one(resources, "platform-shared-postgres-admin");
    // Provider configuration reaches the engine as strings.
    assert.deepEqual([pg.inputs.host, String(pg.inputs.port), pg.dependsOn], ["pg.db.example.net", "6432", []]);
  });

  it("still creates Keycloak's database on the external server and points Keycloak at it", () => {
    const role = one(resources, "platform-shared-keycloak-db-role");
    assert.ok(role.provider!.startsWith(one(resources, "platform-shared-postgres-admin").urn));
    const kc = one(resources, "platform-shared-keycloak");
    const text = (revealSecrets(kc.inputs.uploads) as { content: string }[])[0].content;
    assert.match(text, /^db-url=jdbc:postgresql:\/\/pg\.db\.example\.net:6432\/keycloak\?sslmode=require$/m);
  });

  it("hardens every container and binds ports to each host's own private address", () => {
    for (const c of containers) assertHardened(c, settings.hosts.find((h) => h.name === hostOf(c, providers))!.privateAddress, settings);
    assert.equal((one(resources, "platform-shared-keycloak").inputs.ports as { ip: string }[])[0].ip, "10.9.0.12");
    assertPidsLimits(resources, providers, settings);
  });

  it("leaks no secret", () => assertNoPlainSecret(resources));
});

describe("platform with Garage, Keycloak and Collabora external", () => {
  let settings: StackSettings, resources: RecordedResource[], containers: RecordedResource[], s3: S3Seen;
  before(async () => {
    ({ settings, resources, s3 } = await run("external", path.join(FIXTURES, "Pulumi.external.yaml")));
    containers = byType(resources, CONTAINER);
  });

  it("deploys only PostgreSQL and the Redis of each compute host", () => {
    assert.deepEqual(containers.map((c) => serviceOf(c)).sort(), ["postgres", "redis", "redis"]);
    assert.deepEqual(byType(resources, COMMAND).filter((c) => !c.name.endsWith("-pids")), [], "no Garage layout for an external Garage");
    assertPidsLimits(resources, byType(resources, "pulumi:providers:docker"), settings);
    // Only the provisioning role (test/postgresProvisioner.test.ts) is left on the PostgreSQL.
    const notProvisioner = resources.filter((r) => !r.name.startsWith("platform-postgres-provisioner"));
    assert.ok(!notProvisioner.some((r) => r.type.startsWith("postgresql:")), "no Keycloak database for an external Keycloak");
    assert.ok(!notProvisioner.some((r) => r.type === "random:index/randomPassword:RandomPassword"));
  });

  it("points the providers at the endpoints, with nothing to wait for", () => {
    const kc = one(resources, "platform-keycloak");
    assert.deepEqual([kc.inputs.url, kc.dependsOn], ["https://sso.example.net", []]);
    assert.deepEqual([s3.url, s3.region, s3.ready, s3.secret], ["http://garage-admin.example.net:3900", "garage", [], true]);
  });

  it("leaks no secret", () => assertNoPlainSecret(resources));
});

describe("the dev stack (everything on one local host)", () => {
  let resources: RecordedResource[];
  before(async () => {
    ({ resources } = await run("dev", path.join(ROOT, "Pulumi.dev.yaml")));
  });

  it("uses one local Docker provider and publishes on 127.0.0.1 only", () => {
    const providers = byType(resources, "pulumi:providers:docker");
    assert.deepEqual(providers.map((p) => p.inputs.host), ["unix:///var/run/docker.sock"]);
    const containers = byType(resources, CONTAINER);
    assert.equal(containers.length, 5);
    for (const c of containers) {
      for (const p of (c.inputs.ports ?? []) as { ip: string }[]) assert.equal(p.ip, "127.0.0.1");
    }
  });

  it("lets Keycloak reach PostgreSQL by its network alias (127.0.0.1 is the container's own loopback)", () => {
    const kc = one(resources, "platform-shared-keycloak");
    const text = (revealSecrets(kc.inputs.uploads) as { content: string }[])[0].content;
    assert.match(text, /^db-url=jdbc:postgresql:\/\/postgres:5432\/keycloak\?sslmode=require$/m);
  });

  it("leaks no secret", () => assertNoPlainSecret(resources));
});
