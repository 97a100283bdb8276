import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { computeEndpoints, Endpoints } from "../src/endpoints";
import { StackSettings } from "../src/types";
import type { PlatformSecrets } from "./platform";

export interface SharedServicesArgs {
  /** Validated stack settings: which services are deployed and where. */
  settings: StackSettings;
  /** Operator secrets (admin passwords and tokens). */
  secrets: PlatformSecrets;
  /** Docker provider per host. */
  docker: Record<string, docker.Provider>;
}

/** The shared services of the platform (PostgreSQL, Redis, Garage, Keycloak, Collabora). */
export class SharedServices extends pulumi.ComponentResource {
  readonly endpoints: Endpoints;
  /** Resources a provider of that service must wait for (empty for an external service). */
  readonly postgresReady: pulumi.Resource[] = [];
  readonly keycloakReady: pulumi.Resource[] = [];
  readonly garageReady: pulumi.Resource[] = [];

  constructor(name: string, args: SharedServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:platform:SharedServices", name, {}, opts);
    this.endpoints = computeEndpoints(args.settings);
    this.registerOutputs({});
  }
}
