// Keycloak: the factory realm (once), each tenant's group and roles, and confidential OIDC clients.
// What is configured comes from src/keycloak (pure); this file only wires @pulumi/keycloak resources.
// The OIDC client component lives in ./keycloakClient and is re-exported here.
import * as command from "@pulumi/command";
import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import {
  BRUTE_FORCE, CLAIMS_SCOPE_SPEC, CLIENT_POLICY_NAME, CLIENT_PROFILE_NAME, ClientPolicySpec, ClientProfileSpec,
  clientPolicySet, GROUPS_MAPPER, REALM_SETTINGS, ROLES_MAPPER, WALL_POLICY_NAME, WALL_PROFILE_NAME,
} from "../src/keycloak/definitions";
import { KEYS_SCRIPT_INTERPRETER, KeysScriptEnv, renderDropEncryptionKeysScript } from "../src/keycloak/keys";
import { CLIENT_DEFAULT_SCOPES, groupName, RoleService, roleName, roleServices } from "../src/keycloak/naming";
import { ServiceName } from "../src/types";

export { KeycloakClient } from "./keycloakClient";
export type { KeycloakClientArgs } from "./keycloakClient";

export interface FactoryRealmArgs {
  /** Realm name (stack setting `realm`, default "factory"). */
  realm: string;
  /** Keycloak provider logged in to the master realm (Platform.keycloak). */
  provider: keycloak.Provider;
  /**
   * Stack setting `wallPkce` (default true): the realm requires PKCE S256 of every client, the
   * caddy-security walls included (one client policy, any-client). false keeps the exemption for
   * caddy-security builds that cannot send PKCE (v1.1.31): the main policy skips clients marked
   * factory.wall=true and a second policy gives everyone the redirect-URI rules. Must match the
   * `wallPkce` of the wall clients (KeycloakClient).
   */
  wallPkce?: boolean;
  /**
   * The same admin login as the provider, for the one admin REST call the provider cannot make (removing
   * the realm's RSA-OAEP encryption key provider, see src/keycloak/keys.ts). The program always sets it.
   * Default none (unit tests of other areas): no command, and the realm keeps publishing that key, which
   * breaks the caddy-security walls.
   */
  admin?: {
    /** Keycloak base URL (Platform.endpoints.keycloak.url). */
    url: string;
    /** Master-realm admin user name (KEYCLOAK_ADMIN_USER). */
    username: string;
    /** Its password (Pulumi secret; reaches the command through its environment, logging "none"). */
    password: pulumi.Input<string>;
  };
}

/**
 * The realm holding every user of the factory: protected and retained (users and credentials live there);
 * realm client policies enforcing exact https redirect URIs and PKCE S256 on every client (with
 * `wallPkce: false`, every client but the caddy-security walls, attribute factory.wall=true); no published
 * encryption key (caddy-security
 * rejects a JWKS holding RSA-OAEP); the shared `factory-claims` client scope whose mappers put flat
 * `roles` and `groups` claims in every token; and the realm's default default-scopes (CLIENT_DEFAULT_SCOPES,
 * `factory-claims` included), which every client created afterwards receives.
 */
export class FactoryRealm extends pulumi.ComponentResource {
  /**
   * Realm name, resolved once the realm, its client policies and the claims scope exist: resources that
   * take it as input (tenant groups, clients) are created after them, so the policies check every client.
   */
  readonly realmId: pulumi.Output<string>;
  /** Realm name as given (plain string, for URLs computed at plan time). */
  readonly realmName: string;
  /** Id of the `factory-claims` client scope. */
  readonly claimsScopeId: pulumi.Output<string>;

  constructor(name: string, args: FactoryRealmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:identity:FactoryRealm", name, { realm: args.realm }, opts);
    const child = { parent: this, provider: args.provider };

    const realm = new keycloak.Realm(`${name}-realm`, {
      realm: args.realm,
      displayName: args.realm,
      ...REALM_SETTINGS,
      securityDefenses: { bruteForceDetection: { ...BRUTE_FORCE } },
    }, { ...child, protect: true, retainOnDelete: true });

    // Keycloak's client-policies API is one document per realm and the provider rewrites it whole
    // (read, change, write): the profiles and policies are created one after the other, never in parallel.
    const profile = (spec: ClientProfileSpec, suffix: string, after: pulumi.Resource[]) => new keycloak.RealmClientPolicyProfile(`${name}-${suffix}`, {
      realmId: realm.id,
      name: spec.name,
      description: spec.description,
      executors: spec.executors,
    }, { ...child, dependsOn: after });
    const policy = (spec: ClientPolicySpec, suffix: string, after: pulumi.Resource[]) => new keycloak.RealmClientPolicyProfilePolicy(`${name}-${suffix}`, {
      realmId: realm.id,
      name: spec.name,
      description: spec.description,
      enabled: spec.enabled,
      conditions: spec.conditions,
      profiles: spec.profiles,
    }, { ...child, dependsOn: after });
    // Resource names by spec: the same names in both wallPkce modes, so switching the setting updates the
    // main policy in place and adds or removes only the wall profile and policy.
    const suffix: Record<string, string> = {
      [`profile:${CLIENT_PROFILE_NAME}`]: "client-profile", [`profile:${WALL_PROFILE_NAME}`]: "wall-client-profile",
      [`policy:${CLIENT_POLICY_NAME}`]: "client-policy", [`policy:${WALL_POLICY_NAME}`]: "wall-client-policy",
    };
    const set = clientPolicySet(args.wallPkce ?? true);
    const written: pulumi.Resource[] = [];
    for (const spec of set.profiles) written.push(profile(spec, suffix[`profile:${spec.name}`], [...written]));
    const policies: keycloak.RealmClientPolicyProfilePolicy[] = [];
    for (const spec of set.policies) {
      const p = policy(spec, suffix[`policy:${spec.name}`], [...written]);
      written.push(p);
      policies.push(p);
    }

    // Keycloak publishes the default RSA-OAEP key of a new realm; caddy-security rejects such a JWKS.
    // Re-runs when the realm is replaced or the script changes; the script is idempotent.
    const admin = args.admin;
    const keys = admin === undefined ? undefined : new command.local.Command(`${name}-drop-encryption-keys`, {
      interpreter: [...KEYS_SCRIPT_INTERPRETER],
      create: renderDropEncryptionKeysScript(),
      environment: {
        KC_URL: admin.url,
        KC_REALM: args.realm,
        KC_ADMIN_USER: admin.username,
        KC_ADMIN_PASSWORD: pulumi.secret(admin.password),
      } satisfies Record<keyof KeysScriptEnv, pulumi.Input<string>>,
      logging: "none",
      triggers: [realm.id],
    }, { parent: this, dependsOn: [realm] });

    const scope = new keycloak.openid.ClientScope(`${name}-claims-scope`, {
      realmId: realm.id,
      name: CLAIMS_SCOPE_SPEC.name,
      description: CLAIMS_SCOPE_SPEC.description,
      includeInTokenScope: CLAIMS_SCOPE_SPEC.includeInTokenScope,
    }, child);
    const rolesMapper = new keycloak.openid.UserRealmRoleProtocolMapper(`${name}-roles-mapper`, {
      realmId: realm.id,
      clientScopeId: scope.id,
      ...ROLES_MAPPER,
    }, child);
    const groupsMapper = new keycloak.openid.GroupMembershipProtocolMapper(`${name}-groups-mapper`, {
      realmId: realm.id,
      clientScopeId: scope.id,
      ...GROUPS_MAPPER,
    }, child);
    // Realm default default-scopes, authoritative: Keycloak gives them to every client created afterwards,
    // which replaces a ClientDefaultScopes resource per client. Clients take realmId, resolved below only
    // once this exists, so none is created before it.
    const defaultScopes = new keycloak.RealmDefaultClientScopes(`${name}-default-scopes`, {
      realmId: realm.id,
      defaultScopes: [...CLIENT_DEFAULT_SCOPES],
    }, { ...child, dependsOn: [scope, rolesMapper, groupsMapper] });

    this.realmName = args.realm;
    this.claimsScopeId = scope.id;
    this.realmId = pulumi
      .all([realm.id, ...policies.map((p) => p.id), keys?.id ?? "", defaultScopes.id])
      .apply(([id]) => id);
    this.registerOutputs({ realmId: this.realmId, claimsScopeId: this.claimsScopeId });
  }
}

export interface TenantIdentityArgs {
  /** Tenant slug: names the group and the roles. */
  tenant: string;
  /** Realm name (FactoryRealm.realmId). */
  realmId: pulumi.Input<string>;
  /** The tenant's services; those in ROLE_SERVICES (nextcloud, paheko, wordpress) get a role. */
  services: readonly ServiceName[];
  /** Keycloak provider (Platform.keycloak). */
  provider: keycloak.Provider;
}

/**
 * A tenant's place in the realm: a group named after the slug (its members are the tenant's people) and a
 * realm role `<service>:<slug>` per role service, granted to the group. Group and roles are protected and
 * retained: memberships are data, and an archived tenant keeps them.
 */
export class TenantIdentity extends pulumi.ComponentResource {
  readonly groupId: pulumi.Output<string>;
  /** Role names by service: `paheko:<slug>`… (plain strings, usable in generated configs). */
  readonly roleNames: Partial<Record<ServiceName, string>>;
  /** Role ids by service (for client scope mappings). */
  readonly roleIds: Partial<Record<RoleService, pulumi.Output<string>>>;

  constructor(name: string, args: TenantIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:identity:TenantIdentity", name, { tenant: args.tenant }, opts);
    const child = { parent: this, provider: args.provider };
    const kept = { ...child, protect: true, retainOnDelete: true };

    const group = new keycloak.Group(`${name}-group`, { realmId: args.realmId, name: groupName(args.tenant) }, kept);
    this.roleNames = {};
    this.roleIds = {};
    const roles: keycloak.Role[] = [];
    for (const service of roleServices(args.services)) {
      const role = new keycloak.Role(`${name}-role-${service}`, {
        realmId: args.realmId,
        name: roleName(service, args.tenant),
        description: `${service} access for tenant ${args.tenant}`,
      }, kept);
      roles.push(role);
      this.roleNames[service] = roleName(service, args.tenant);
      this.roleIds[service] = role.id;
    }
    if (roles.length > 0) {
      new keycloak.GroupRoles(`${name}-group-roles`, {
        realmId: args.realmId,
        groupId: group.id,
        roleIds: roles.map((r) => r.id),
        exhaustive: true,
      }, child);
    }
    this.groupId = group.id;
    this.registerOutputs({ groupId: this.groupId, roleNames: this.roleNames });
  }

  /**
   * `{ roleName: roleId }` for some (default all) of the tenant's roles: the `scopeRoles` of a KeycloakClient
   * whose tokens must carry them.
   */
  scopeRoles(services?: readonly RoleService[]): Record<string, pulumi.Output<string>> {
    const out: Record<string, pulumi.Output<string>> = {};
    for (const [service, id] of Object.entries(this.roleIds) as [RoleService, pulumi.Output<string>][]) {
      if (!services || services.includes(service)) out[this.roleNames[service]!] = id;
    }
    return out;
  }
}
