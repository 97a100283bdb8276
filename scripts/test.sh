#!/usr/bin/env bash
# Runs the test suite with node's built-in runner. `unit`: type check + fast tests under mocks and pure
# logic; `lab`: tests against real servers (Garage, bind9, PostgreSQL, Caddy, Keycloak); default: both,
# in one runner invocation so its closing summary counts everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${SF_CACHE:-$HOME/.cache/service-factory}/bin:$PATH"
what="${1:-all}"
shopt -s nullglob
unit=(test/*.test.ts)
lab=(test/lab/*.test.ts)
case "$what" in
  unit) files=("${unit[@]}") ;;
  lab) files=("${lab[@]}") ;;
  all) files=("${unit[@]}" "${lab[@]}") ;;
  *) echo "usage: scripts/test.sh [unit|lab|all]" >&2; exit 2 ;;
esac
echo "== tsc --strict (noEmit)"
npx tsc --noEmit -p tsconfig.json
echo "== node --test (${#files[@]} files)"
# Two files at a time: lab tests start real servers and the machine has two cores.
# --test-force-exit: a file whose tests are done exits even if a library left work in its event loop
# (seen once after a failed assertion under mocks); --test-timeout bounds any single test at 10 minutes.
exec node --import tsx --test --test-concurrency=2 --test-force-exit --test-timeout=600000 --test-reporter=spec "${files[@]}"
