// The CrossGuard policies, built from the pure rules in ./rules. Kept apart from index.ts (which starts the
// policy pack server) so tests can run each policy's validateResource with a fake args object.
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { RULES, StackResource, STACK_RULES } from "./rules";

export const PACK_NAME = "service-factory";

export function validationArgsToRule(args: ResourceValidationArgs): { type: string; inputs: Record<string, unknown>; protect: boolean; name: string; parent?: string } {
  return { type: args.type, inputs: args.props, protect: args.opts?.protect === true, name: args.name, parent: args.opts?.parent };
}

export function stackArgsToRule(args: StackValidationArgs): StackResource[] {
  return args.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.props, urn: r.urn }));
}

export const resourcePolicies: ResourceValidationPolicy[] = RULES.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation): void => {
    const r = validationArgsToRule(args);
    for (const message of rule.check(r.type, r.inputs, { protect: r.protect, name: r.name, parent: r.parent })) reportViolation(message);
  },
}));

export const stackPolicies: StackValidationPolicy[] = STACK_RULES.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: "mandatory",
  validateStack: (args: StackValidationArgs, reportViolation: ReportViolation): void => {
    for (const v of rule.check(stackArgsToRule(args))) reportViolation(v.message, v.urn);
  },
}));

export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [...resourcePolicies, ...stackPolicies];
