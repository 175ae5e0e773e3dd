#!/usr/bin/env bash
# Nightly backup (cron, from cloud-init.yaml): pg_dump of the stack's database, sealed
# under the master key by `parley backup put` into the bucket (the newest
# PARLEY_BACKUP_KEEP kept). The dump is complete before anything is stored: a pg_dump that
# fails halfway stores nothing. Restore: docs/deploy.md.
set -euo pipefail
cd "${PARLEY_DEPLOY_ROOT:-/srv/parley}/current"
export COMPOSE_PROJECT_NAME=parley
PARLEY_VERSION=$(basename "$(pwd -P)")
export PARLEY_VERSION
umask 077
dump=$(mktemp /var/tmp/parley-backup.XXXXXX)
trap 'rm -f "$dump"' EXIT
docker compose exec -T db pg_dump --format=custom -U parley parley > "$dump"
docker compose run --rm -T --no-deps scheduler \
    parley backup put --keep "${PARLEY_BACKUP_KEEP:-14}" < "$dump"
