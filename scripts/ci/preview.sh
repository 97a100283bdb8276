#!/usr/bin/env bash
# Runs, for one stack, the previews the pipeline needs and keeps every output for the gate and the comment:
#   <out>/<stack>.preview.json  `pulumi preview --json` with the policy pack
#   <out>/<stack>.preview.rc    its exit code (non-zero: errors or mandatory policy violations)
#   <out>/<stack>.preview.err   its stderr
#   <out>/<stack>.plan.txt      `npm run plan` (per-tenant plan under mocks), unless --no-tenant-plan
#   <out>/<stack>.plan.json     the update plan, with --save-plan (experimental; PULUMI_EXPERIMENTAL=true)
# Always exits 0 once the files are written: the workflow's last step fails the job from the .rc files,
# after the comment is posted.
# usage: scripts/ci/preview.sh <stack> <out-dir> [--save-plan] [--no-tenant-plan]
set -uo pipefail
stack="${1:?stack}"
out="${2:?out dir}"
shift 2
mkdir -p "$out"
args=(preview --stack "$stack" --policy-pack policy --json --non-interactive)
tenant_plan=1
for opt in "$@"; do
  case "$opt" in
    --save-plan) args+=(--save-plan "$out/$stack.plan.json") ;;
    --no-tenant-plan) tenant_plan=0 ;;
    *) echo "preview.sh: unknown option $opt" >&2; exit 2 ;;
  esac
done
pulumi "${args[@]}" >"$out/$stack.preview.json" 2>"$out/$stack.preview.err"
echo "$?" >"$out/$stack.preview.rc"
if [ "$tenant_plan" = 1 ]; then
  npm run --silent plan -- --stack "$stack" >"$out/$stack.plan.txt" 2>&1 || echo "(npm run plan failed with exit $?)" >>"$out/$stack.plan.txt"
fi
echo "preview $stack: exit $(cat "$out/$stack.preview.rc")"
