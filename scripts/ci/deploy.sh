#!/usr/bin/env bash
# Deploys one stack the way the pipeline does on main:
#   1. pulumi preview with the policy pack, saving the update plan (when PULUMI_UPDATE_PLANS is not false);
#   2. the data-loss gate on that preview (ALLOW_DATA_LOSS=true only when the merged PR had the label);
#   3. pulumi up constrained to the saved plan (--plan), so it cannot do more than what was previewed.
# Update plans are experimental in the Pulumi CLI: PULUMI_EXPERIMENTAL=true is required for --save-plan and
# --plan; set PULUMI_UPDATE_PLANS=false to deploy without one (the gate still runs on the preview).
# usage: scripts/ci/deploy.sh <stack> <out-dir>
set -euo pipefail
stack="${1:?stack}"
out="${2:?out dir}"
mkdir -p "$out"
use_plan="${PULUMI_UPDATE_PLANS:-true}"
if [ "$use_plan" = "true" ]; then
  export PULUMI_EXPERIMENTAL=true
  bash scripts/ci/preview.sh "$stack" "$out" --save-plan --no-tenant-plan
else
  bash scripts/ci/preview.sh "$stack" "$out" --no-tenant-plan
fi
rc="$(cat "$out/$stack.preview.rc")"
if [ "$rc" != "0" ]; then
  echo "pulumi preview of $stack failed (exit $rc), not deploying:" >&2
  cat "$out/$stack.preview.err" >&2
  exit 1
fi
npx tsx scripts/ci/data-loss-gate.ts --report "$out/$stack.gate.md" "$stack=$out/$stack.preview.json"
up=(up --stack "$stack" --policy-pack policy --yes --non-interactive)
if [ "$use_plan" = "true" ]; then
  up+=(--plan "$out/$stack.plan.json")
fi
pulumi "${up[@]}"
