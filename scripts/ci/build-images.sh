#!/usr/bin/env bash
# Builds the factory's own images (the ones no upstream publishes, images/*/Dockerfile) with `docker build`
# and, with --push, pushes them. The one script behind .github/workflows/images.yml and
# .forgejo/workflows/images.yml (on tags images-*), and what an operator runs by hand (images/README.md).
#
# Each image is <IMAGE_REGISTRY>/<name>:<tag>, the name and tag the stacks pin (settings.images.*):
#   caddy-security   images/caddy-security   <CADDY>-<CADDY_SECURITY>    (images.caddy)
#   paheko-factory   images/paheko-factory   <PAHEKO>                    (images.paheko)
#   wordpress-wpcli  images/wordpress        <WORDPRESS>                 (images.wordpress)
# Build args: a Dockerfile ARG listed in ARG_KEYS below gets its value from images/versions.json (the one
# list of versions) when that file has the key; every other ARG keeps its Dockerfile default. Tags are made
# from the same values, so a tag always says what is inside.
#
# usage: scripts/ci/build-images.sh [--push] [--list] [IMAGE…]      (IMAGE: a name above; default all)
#   --list   print "<name> <reference> <context> [NAME=value…]" per image (tab-separated); no docker
#   --push   docker login (when IMAGE_REGISTRY_USER and IMAGE_REGISTRY_PASSWORD are set), build, push
# environment:
#   IMAGE_REGISTRY            registry host and optional namespace, e.g. registry.example.org or
#                             registry.example.org/factory; required with --push (default for local builds:
#                             service-factory, the dev stack's prefix)
#   IMAGE_REGISTRY_USER, IMAGE_REGISTRY_PASSWORD   registry credentials (the password goes on stdin)
#   DOCKER                    docker CLI to run (default docker)
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSIONS=images/versions.json
DOCKER="${DOCKER:-docker}"

# name, build context, tag template ({ARG} = that build arg's value).
IMAGES=(
  "caddy-security images/caddy-security {CADDY}-{CADDY_SECURITY}"
  "paheko-factory images/paheko-factory {PAHEKO}"
  "wordpress-wpcli images/wordpress {WORDPRESS}"
)
# Dockerfile ARG -> key of images/versions.json.
ARG_KEYS=(
  CADDY=caddy
  CADDY_SECURITY=caddySecurity
  XCADDY=xcaddy
  PAHEKO=paheko
  PAHEKO_SHA256=pahekoSha256
  GARAGE=garage
  KEYCLOAK=keycloak
)

die() { echo "build-images: $*" >&2; exit 1; }

push=0
list=0
wanted=()
for a in "$@"; do
  case "$a" in
    --push) push=1 ;;
    --list) list=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    -*) die "unknown option $a" ;;
    *) wanted+=("$a") ;;
  esac
done

[ -f "$VERSIONS" ] || die "$VERSIONS is missing"
# The value of one key of versions.json ("" when absent); jq when installed, else node.
if command -v jq >/dev/null 2>&1; then
  jq -e 'type == "object"' "$VERSIONS" >/dev/null || die "$VERSIONS is not a JSON object"
  version_of() { jq -r --arg k "$1" '.[$k] // "" | if type == "string" then . else error("not a string") end' "$VERSIONS"; }
else
  command -v node >/dev/null 2>&1 || die "reading $VERSIONS needs jq or node"
  version_of() {
    node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
      if (v !== undefined && typeof v !== "string") throw new Error(process.argv[2] + " is not a string");
      process.stdout.write(v ?? "")' "$VERSIONS" "$1"
  }
fi

key_of() {
  local pair
  for pair in "${ARG_KEYS[@]}"; do
    if [ "${pair%%=*}" = "$1" ]; then echo "${pair#*=}"; return; fi
  done
}

registry="${IMAGE_REGISTRY:-}"
registry="${registry%/}"
if [ -z "$registry" ]; then
  [ "$push" = 0 ] || die "IMAGE_REGISTRY is not set (repository variable or secret; e.g. registry.example.org)"
  registry=service-factory
fi
case "$registry" in *://* | *" "*) die "IMAGE_REGISTRY must be host[/namespace], not $registry" ;; esac

for w in "${wanted[@]}"; do
  found=0
  for spec in "${IMAGES[@]}"; do [ "${spec%% *}" = "$w" ] && found=1; done
  [ "$found" = 1 ] || die "unknown image $w (known: $(for s in "${IMAGES[@]}"; do printf '%s ' "${s%% *}"; done))"
done

if [ "$push" = 1 ] && [ "$list" = 0 ]; then
  user="${IMAGE_REGISTRY_USER:-}"
  password="${IMAGE_REGISTRY_PASSWORD:-}"
  if [ -n "$user" ] && [ -n "$password" ]; then
    printf '%s' "$password" | "$DOCKER" login --username "$user" --password-stdin "${registry%%/*}"
  elif [ -n "$user" ] || [ -n "$password" ]; then
    die "set both IMAGE_REGISTRY_USER and IMAGE_REGISTRY_PASSWORD, or neither (already logged in)"
  fi
fi

revision="$(git rev-parse HEAD 2>/dev/null || true)"

for spec in "${IMAGES[@]}"; do
  read -r name context template <<<"$spec"
  if [ "${#wanted[@]}" -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  dockerfile="$context/Dockerfile"
  [ -f "$dockerfile" ] || die "$dockerfile is missing"

  # The Dockerfile's ARGs with their defaults (first declaration wins), then versions.json over them.
  declare -A value=()
  build_args=()
  while read -r arg default; do
    [ -n "${value[$arg]+set}" ] && continue
    value[$arg]="$default"
    key="$(key_of "$arg")"
    if [ -n "$key" ]; then
      v="$(version_of "$key")"
      if [ -n "$v" ]; then
        value[$arg]="$v"
        build_args+=(--build-arg "$arg=$v")
      fi
    fi
  done < <(sed -n 's/^ARG \([A-Za-z_][A-Za-z0-9_]*\)=\([^ ]*\)$/\1 \2/p; s/^ARG \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' "$dockerfile")

  tag="$template"
  while [[ "$tag" =~ \{([A-Z0-9_]+)\} ]]; do
    arg="${BASH_REMATCH[1]}"
    [ -n "${value[$arg]:-}" ] || die "$dockerfile: no value for $arg (tag $template)"
    tag="${tag//\{$arg\}/${value[$arg]}}"
  done
  ref="$registry/$name:$tag"

  if [ "$list" = 1 ]; then
    printf '%s\t%s\t%s' "$name" "$ref" "$context"
    for a in "${build_args[@]}"; do [ "$a" = --build-arg ] || printf '\t%s' "$a"; done
    printf '\n'
    unset value
    continue
  fi

  labels=(--label "org.opencontainers.image.version=$tag")
  [ -n "$revision" ] && labels+=(--label "org.opencontainers.image.revision=$revision")
  if [ -n "${GITHUB_SERVER_URL:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ]; then
    labels+=(--label "org.opencontainers.image.source=$GITHUB_SERVER_URL/$GITHUB_REPOSITORY")
  fi
  echo "build-images: $ref ($context)"
  "$DOCKER" build --pull "${build_args[@]}" "${labels[@]}" --tag "$ref" "$context"
  if [ "$push" = 1 ]; then
    "$DOCKER" push "$ref"
  fi
  unset value
done
