// The e2e test bed: two Docker engines as two hosts, each with a private address of its own (added to
// the loopback interface, so containers of one engine reach the other engine's published ports through
// the host, like two machines on a private network), the lab images loaded into both, a BIND for the
// managed zone, and a throwaway project with the `e2e` stack file and tenant directory.
import { spawnSync } from "node:child_process";
import { stringify } from "yaml";
import { BindServer, missingBindTools, startBind } from "./bind";
import { Dockerd, dockerdUnavailable, startDockerd } from "./dockerd";
import { Engine, findEngine, makeProject, Project } from "./engine";
import { LAB_IMAGES, loadLabImages, missingLabImages } from "./lab-images";

export const E2E_STACK = "e2e";
export const E2E_DOMAIN = "e2e.factory.test";
export const E2E_TENANTS_DIR = "e2e-tenants";
/** The two hosts: name, private address (on lo), address pool of its engine. */
export const E2E_HOSTS = [
  { name: "e2e-a", address: "10.250.0.1", pool: "10.221.0.0/16", roles: ["edge", "storage"] },
  { name: "e2e-b", address: "10.250.0.2", pool: "10.222.0.0/16", roles: ["compute"] },
] as const;

/** Why the e2e cannot run here, or undefined. */
export function e2eUnavailable(): string | undefined {
  const engine = findEngine();
  if (typeof engine === "string") return engine;
  const dockerd = dockerdUnavailable();
  if (dockerd) return dockerd;
  const bind = missingBindTools();
  if (bind.length > 0) return `BIND tools missing: ${bind.join(", ")} (npm run setup:test)`;
  const images = missingLabImages();
  if (images.length > 0) return `lab images not built: ${images.join(", ")} (npm run setup:test)`;
  if (spawnSync("ip", ["-V"]).status !== 0) return "no ip(8) (iproute2)";
  return undefined;
}

export interface TenantSpec {
  slug: string;
  status?: "active" | "suspended" | "archived";
  dns?: "managed" | "external";
  services: Record<string, Record<string, unknown>>;
}

export function tenantYaml(t: TenantSpec): string {
  return stringify({
    slug: t.slug,
    name: `Tenant ${t.slug}`,
    contact: `admin@${t.slug}.example.net`,
    status: t.status ?? "active",
    dns: t.dns ?? "managed",
    services: t.services,
  });
}

export function e2eStackFile(o: { hosts: { name: string; docker: string; address: string; roles: readonly string[] }[]; dnsPort: number; keyName: string }): string {
  const [storage] = o.hosts.filter((h) => h.roles.includes("storage"));
  const [compute] = o.hosts.filter((h) => h.roles.includes("compute"));
  const edges = o.hosts.filter((h) => h.roles.includes("edge"));
  return stringify({
    config: {
      "service-factory:domain": E2E_DOMAIN,
      "service-factory:acmeEmail": `ops@${E2E_DOMAIN}`,
      "service-factory:realm": "factory",
      "service-factory:edgeTls": "internal",
      "service-factory:tenantsDir": E2E_TENANTS_DIR,
      "service-factory:hosts": o.hosts.map((h) => ({ name: h.name, docker: h.docker, roles: [...h.roles], privateAddress: h.address, publicIPv4: h.address })),
      "service-factory:images": {
        postgres: LAB_IMAGES.postgres,
        redis: LAB_IMAGES.redis,
        garage: LAB_IMAGES.garage,
        keycloak: LAB_IMAGES.keycloak,
        caddy: LAB_IMAGES.caddy,
        mariadb: LAB_IMAGES.mariadb,
        toolbox: LAB_IMAGES.toolbox,
        // Not deployed by the e2e (no tenant subscribes, Collabora is external): the published pins.
        collabora: "collabora/code:24.04.10.2.1",
        nextcloud: "nextcloud:31.0.9-fpm",
        paheko: "registry.example.org/paheko-factory:1.3.15",
        wordpress: "registry.example.org/wordpress-wpcli:6.8.3-php8.3-fpm",
      },
      "service-factory:services": {
        postgres: { host: storage.name },
        garage: { host: storage.name },
        keycloak: { host: compute.name },
        collabora: { endpoint: `https://office.${E2E_DOMAIN}` },
      },
      "service-factory:dns": {
        server: "127.0.0.1",
        port: o.dnsPort,
        tsigKeyName: o.keyName,
        tsigAlgorithm: "hmac-sha256",
        ttl: 60,
        webEndpoints: { ipv4: edges.map((h) => h.address) },
      },
      "service-factory:nextcloud": { version: "31.0.9", cronIntervalMinutes: 5, apps: ["user_oidc", "richdocuments"] },
      "service-factory:wordpress": { plugins: ["staatic@1.11.4"], themes: ["twentytwentyfive@1.3"] },
      "service-factory:mail": { host: "127.0.0.1", port: 1025, from: `noreply@${E2E_DOMAIN}` },
    },
  });
}

export interface TestBed {
  engine: Engine;
  hosts: { name: string; address: string; dockerd: Dockerd; roles: readonly string[] }[];
  bind: BindServer;
  project: Project;
  stop(): Promise<void>;
}

/** Starts everything; the caller writes the tenant files and runs the CLI. */
export async function startTestBed(): Promise<TestBed> {
  const engine = findEngine();
  if (typeof engine === "string") throw new Error(engine);
  const added: string[] = [];
  const engines: Dockerd[] = [];
  let bind: BindServer | undefined;
  const cleanup = async () => {
    for (const d of engines) await d.stop();
    await bind?.stop();
    for (const a of added) spawnSync("ip", ["addr", "del", `${a}/32`, "dev", "lo"]);
  };
  try {
    for (const h of E2E_HOSTS) {
      const r = spawnSync("ip", ["addr", "add", `${h.address}/32`, "dev", "lo"], { encoding: "utf8" });
      if (r.status !== 0 && !/File exists/.test(r.stderr)) throw new Error(`ip addr add ${h.address}: ${r.stderr}`);
      if (r.status === 0) added.push(h.address);
    }
    const hosts: TestBed["hosts"] = [];
    for (const h of E2E_HOSTS) {
      const d = await startDockerd({ name: h.name, addressPool: h.pool });
      engines.push(d);
      await loadLabImages(d.host);
      hosts.push({ name: h.name, address: h.address, dockerd: d, roles: h.roles });
    }
    bind = await startBind({ zones: [E2E_DOMAIN], keyName: "factory-e2e", extraRecords: ["keep IN A 192.0.2.250"] });
    const stackFile = e2eStackFile({ hosts: hosts.map((h) => ({ ...h, docker: h.dockerd.host })), dnsPort: bind.port, keyName: bind.keyName });
    const project = makeProject(engine, { name: "e2e", stackFiles: { [`Pulumi.${E2E_STACK}.yaml`]: stackFile } });
    const b = bind;
    return {
      engine, hosts, bind: b, project,
      async stop() {
        project.remove();
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
