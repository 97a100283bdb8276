// CrossGuard policy pack of the service factory. Operators run it with
//   pulumi preview --policy-pack policy      (and pulumi up --policy-pack policy)
// Every policy is mandatory: a violation fails the preview/update. The rules live in ./rules (pure, tested).
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./policies";

new PolicyPack(PACK_NAME, {
  enforcementLevel: "mandatory",
  description: "Service factory guardrails: container hardening, pinned images, read-only Nextcloud install, protected state, hardened OIDC clients, Garage keys without owner, private data ports.",
  policies,
});
