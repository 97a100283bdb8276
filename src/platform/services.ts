// Fixed facts about the shared services the component wires: paths inside the containers, the Keycloak
// admin and database names, the platform's Garage key name, garage.toml options. Pure (no Pulumi).
import { GARAGE_REGION, PORTS, urlHost } from "../endpoints";
import { GarageTomlOptions } from "../garage/config";
import { Host, platformHostnames, StackSettings } from "../types";

/** The master-realm admin the keycloak provider logs in as (created by bootstrap-admin-* on first start). */
export const KEYCLOAK_ADMIN_USER = "admin";
/** Keycloak's role and database on the shared PostgreSQL (same name). */
export const KEYCLOAK_DATABASE = "keycloak";
/** Name given in Garage to the platform's own S3 key (CORS rules and first pages, src/garage/s3.ts). */
export const PLATFORM_GARAGE_KEY_NAME = "platform";

/** Paths inside the Garage container: one data volume at `root`, config and secrets uploaded as files. */
export const GARAGE_PATHS = {
  root: "/var/lib/garage",
  meta: "/var/lib/garage/meta",
  data: "/var/lib/garage/data",
  config: "/etc/garage.toml",
  rpcSecretFile: "/run/secrets/garage-rpc-secret",
  adminTokenFile: "/run/secrets/garage-admin-token",
} as const;

function hostPort(addr: string, port: number): string {
  return `${urlHost(addr)}:${port}`;
}

/** Options of renderGarageToml for the single Garage node on `host` (listens inside the container on all addresses). */
export function garageTomlOptions(settings: Pick<StackSettings, "domain">, host: Host): GarageTomlOptions {
  return {
    metadataDir: GARAGE_PATHS.meta,
    dataDir: GARAGE_PATHS.data,
    replicationFactor: 1,
    rpcBindAddr: `[::]:${PORTS.garageRpc}`,
    rpcPublicAddr: hostPort(host.privateAddress, PORTS.garageRpc),
    s3ApiBindAddr: `[::]:${PORTS.garageS3}`,
    s3Region: GARAGE_REGION,
    webBindAddr: `[::]:${PORTS.garageWeb}`,
    webRootDomain: `.${platformHostnames(settings.domain).garageWebRoot}`,
    adminApiBindAddr: `[::]:${PORTS.garageAdmin}`,
    rpcSecretFile: GARAGE_PATHS.rpcSecretFile,
    adminTokenFile: GARAGE_PATHS.adminTokenFile,
  };
}
