#!/usr/bin/env bash
# Gives the job SSH access to the Docker hosts (the docker providers use ssh:// URLs): writes the deploy
# key and the pinned host keys. Both come from CI secrets: DEPLOY_SSH_KEY (private key) and
# DEPLOY_KNOWN_HOSTS (ssh-keyscan output checked by an operator). Without a key, it does nothing.
set -euo pipefail
if [ -z "${DEPLOY_SSH_KEY:-}" ]; then
  echo "DEPLOY_SSH_KEY not set: no SSH access configured"
  exit 0
fi
if [ -z "${DEPLOY_KNOWN_HOSTS:-}" ]; then
  echo "DEPLOY_KNOWN_HOSTS must be set with DEPLOY_SSH_KEY (host keys are pinned, never trusted on first use)" >&2
  exit 1
fi
install -d -m 700 "$HOME/.ssh"
umask 077
printf '%s\n' "$DEPLOY_SSH_KEY" >"$HOME/.ssh/id_deploy"
printf '%s\n' "$DEPLOY_KNOWN_HOSTS" >"$HOME/.ssh/known_hosts"
cat >"$HOME/.ssh/config" <<'CONF'
Host *
  IdentityFile ~/.ssh/id_deploy
  IdentitiesOnly yes
  StrictHostKeyChecking yes
CONF
echo "SSH deploy key installed"
