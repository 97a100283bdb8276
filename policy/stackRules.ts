// The rules over the whole stack (CrossGuard stack validation), apart from the per-resource RULES of
// ./rules: they see every resource at once and answer what one resource's inputs cannot tell.
import { Inputs, str, TYPES } from "./ruleInputs";
import { exemptsWalls, goesWithoutPkce, WALL_CLIENT_ATTRIBUTE } from "./wallClients";

/** One resource of a stack, as a stack rule sees it (CrossGuard's PolicyResource: type, name, props, urn). */
export interface StackResource {
  type: string;
  name: string;
  inputs: Inputs;
  urn?: string;
}

/** A rule over the whole stack: what one resource's inputs cannot tell (a client against its realm's policies). */
export interface StackRule {
  name: string;
  description: string;
  check(resources: readonly StackResource[]): { message: string; urn?: string }[];
}

export const STACK_RULES: StackRule[] = [
  {
    name: "wall-pkce-exemption",
    description: `A wall client without PKCE (${WALL_CLIENT_ATTRIBUTE}=true) only in a stack whose realm exempts the walls from PKCE (a client policy with a client-attributes condition on ${WALL_CLIENT_ATTRIBUTE}=true, registered only with service-factory:wallPkce: false); with the default wallPkce: true every client requires PKCE S256.`,
    check(resources) {
      if (resources.some((r) => r.type === TYPES.kcClientPolicy && exemptsWalls(r.inputs))) return [];
      return resources.filter((r) => r.type === TYPES.kcClient && goesWithoutPkce(r.inputs)).map((r) => ({
        urn: r.urn,
        message: `Keycloak client ${str(r.inputs.clientId) ?? r.name} goes without PKCE (${WALL_CLIENT_ATTRIBUTE}=true), but no client policy of this stack exempts the walls: the realm requires PKCE S256 of every client (service-factory:wallPkce is on) and would refuse its logins`,
      }));
    },
  },
];

/** Every violation of every stack rule, as "<rule>: <message>". */
export function stackViolations(resources: readonly StackResource[]): string[] {
  return STACK_RULES.flatMap((r) => r.check(resources).map((v) => `${r.name}: ${v.message}`));
}
