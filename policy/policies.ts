// The CrossGuard policies, built from the pure rules in ./rules. Kept apart from index.ts (which starts the
// policy pack server) so tests can run each policy's validateResource with a fake args object.
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { RULES } from "./rules";

export const PACK_NAME = "service-factory";

export function validationArgsToRule(args: ResourceValidationArgs): { type: string; inputs: Record<string, unknown>; protect: boolean; name: string; parent?: string } {
  return { type: args.type, inputs: args.props, protect: args.opts?.protect === true, name: args.name, parent: args.opts?.parent };
}

export const policies: ResourceValidationPolicy[] = RULES.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation): void => {
    const r = validationArgsToRule(args);
    for (const message of rule.check(r.type, r.inputs, { protect: r.protect, name: r.name, parent: r.parent })) reportViolation(message);
  },
}));
