// The e2e test bed: two Docker engines as two hosts, each with a private address of its own (added to
// the loopback interface, so containers of one engine reach the other engine's published ports through
// the host, like two machines on a private network), the lab images loaded into both, a BIND for the
// managed zone, and a throwaway project with the `e2e` stack file and tenant directory.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { BindServer, missingBindTools, startBind } from "./bind";
import { Dockerd, dockerdUnavailable, startDockerd } from "./dockerd";
import { Engine, findEngine, makeProject, Project } from "./engine";
import { LAB_IMAGES, loadLabImages, missingLabImages } from "./lab-images";

export const E2E_STACK = "e2e";
export const E2E_DOMAIN = "e2e.factory.test";
export const E2E_TENANTS_DIR = "e2e-tenants";
/** The two hosts: name and roles; their addresses and pools come from the slot a test bed claims. */
export const E2E_HOSTS = [
  { name: "e2e-a", roles: ["edge", "storage"] },
  { name: "e2e-b", roles: ["compute"] },
] as const;

/** How many test beds may run side by side on one machine (one slot each). */
const E2E_SLOTS = 16;
const SLOT_DIR = path.join(os.tmpdir(), "sf-e2e-slots");

/** Slot N's private addresses (on lo) and the address pools of its two engines; distinct per slot. */
export function slotNetwork(slot: number): { address: string; pool: string }[] {
  return [0, 1].map((i) => ({ address: `10.250.${slot}.${i + 1}`, pool: `10.${160 + 2 * slot + i}.0.0/16` }));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Claims a free slot: the first whose owner file can be created exclusively, or whose owner died without
 * cleaning up (a killed run leaves its addresses on lo; they are reused, not fought over). Returns the
 * slot and a release function.
 */
export function claimSlot(): { slot: number; release(): void } {
  fs.mkdirSync(SLOT_DIR, { recursive: true });
  for (let slot = 0; slot < E2E_SLOTS; slot++) {
    const owner = path.join(SLOT_DIR, `slot-${slot}.pid`);
    try {
      fs.writeFileSync(owner, String(process.pid), { flag: "wx" });
    } catch {
      const pid = Number(fs.readFileSync(owner, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
      // Stale: take it over atomically (rename replaces), then check nobody else won the same race.
      const mine = `${owner}.${process.pid}`;
      fs.writeFileSync(mine, String(process.pid));
      fs.renameSync(mine, owner);
      if (fs.readFileSync(owner, "utf8").trim() !== String(process.pid)) continue;
    }
    return { slot, release: () => fs.rmSync(owner, { force: true }) };
  }
  throw new Error(`all ${E2E_SLOTS} e2e slots are held by running test beds (${SLOT_DIR})`);
}

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
  const claimed = claimSlot();
  const network = slotNetwork(claimed.slot);
  const engines: Dockerd[] = [];
  let bind: BindServer | undefined;
  const cleanup = async () => {
    for (const d of engines) await d.stop();
    await bind?.stop();
    for (const n of network) spawnSync("ip", ["addr", "del", `${n.address}/32`, "dev", "lo"]);
    claimed.release();
  };
  try {
    for (const n of network) {
      const r = spawnSync("ip", ["addr", "add", `${n.address}/32`, "dev", "lo"], { encoding: "utf8" });
      // A run killed before its cleanup leaves its addresses behind; the slot is ours now, so they are too.
      if (r.status !== 0 && !/File exists|already assigned/i.test(r.stderr)) throw new Error(`ip addr add ${n.address}: ${r.stderr}`);
    }
    const hosts: TestBed["hosts"] = [];
    for (const [i, h] of E2E_HOSTS.entries()) {
      const d = await startDockerd({ name: h.name, addressPool: network[i].pool });
      engines.push(d);
      await loadLabImages(d.host);
      hosts.push({ name: h.name, address: network[i].address, dockerd: d, roles: h.roles });
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
