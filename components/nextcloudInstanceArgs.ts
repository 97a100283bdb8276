// What one tenant's NextcloudInstance is given: its Args (built by nextcloudInstanceArgs in
// nextcloudContext.ts) and what the rollout hands it for each run. Types only, in their own module: the
// contract nextcloudContext.ts fills in, kept apart from the resources the instance wires
// (./nextcloudInstance, which re-exports them).
import type * as docker from "@pulumi/docker";
import type * as keycloak from "@pulumi/keycloak";
import type * as postgresql from "@pulumi/postgresql";
import type * as pulumi from "@pulumi/pulumi";
import type { Host } from "../src/types";
import type { GarageS3 } from "./garageBucket";
import type { TenantIdentity } from "./identity";

export type TenantRoles = Pick<TenantIdentity, "roleNames" | "scopeRoles">;

export interface NextcloudInstanceArgs {
  /** Tenant slug. */
  tenant: string;
  /** Stack name (prefix of Docker object names). */
  stack: string;
  /** false for an archived tenant: data resources only (no container, command or OIDC client). */
  active: boolean;
  /** Public hostname. */
  hostname: string;
  /** Storage quota in GiB (bucket quota and default user quota, see quotaPolicy). */
  quotaGb: number;
  /** E-mail of the break-glass admin account (the tenant's contact). */
  adminEmail: string;
  /** The compute host the tenant runs on, and its Docker provider. */
  host: Host;
  provider: docker.Provider;
  /** Shared PostgreSQL provider, and the server's address as seen from the host's containers. */
  postgres: postgresql.Provider;
  database: { host: string; port: number };
  /** Garage: S3 API with the platform key (Platform.s3) and admin API. */
  garageS3: GarageS3;
  garageAdmin: { url: string; token: pulumi.Input<string> };
  /** Keycloak provider, realm, the tenant's identity (undefined only when archived) and the discovery URL. */
  keycloak: keycloak.Provider;
  realmId: pulumi.Input<string>;
  identity?: TenantRoles;
  discoveryUri: string;
  /** Addresses Nextcloud trusts X-Forwarded-* from (the edge hosts). */
  trustedProxies: string[];
  /** Apps enabled on the instance (settings.nextcloud.apps). */
  apps: string[];
  /** Collabora's public URL (richdocuments wopi_url). */
  collaboraUrl: string;
  /** SMTP relay password (secret), uploaded as a file. */
  smtpPassword: pulumi.Input<string>;
  /**
   * The host's Redis: its Docker container name, the admin password (operator secret redisAdminPassword)
   * the tenant's Redis user is created with, and the container resource when this stack deploys it.
   */
  redis: { container: string; adminPassword: pulumi.Input<string>; ready?: pulumi.Resource };
  /** Content of scripts/nextcloud/entrypoint.sh. */
  entrypoint: string;
  /** Environment of the FPM and cron containers (renderTenantEnv with the containers' secrets dir). */
  env: string[];
  /** The same environment for the init run (secrets under SCRIPT_SECRETS_DIR). */
  initEnv: string[];
  /** Minutes between two runs of the tenant's cron.php (settings nextcloud.cronIntervalMinutes). */
  cronIntervalMinutes: number;
}

/** What the rollout hands an instance for a run: the host's install volume, image and network, and what comes first. */
export interface RunArgs {
  installVolume: docker.Volume;
  image: string;
  imageResource: docker.RemoteImage;
  network: docker.Network;
  /** Rollout predecessors (from the plan). */
  after: pulumi.Resource[];
}
