#!/usr/bin/env bash
# Creates a Prisma migration from the current schema.prisma, non-interactively and safely when several people
# edit it at once: under a lock, bring a scratch database up to date with the existing migrations, write the
# difference to schema.prisma as a new migration folder (Prisma's format), then regenerate the client.
#   scripts/new-migration.sh <name>
set -euo pipefail
name=${1:?usage: scripts/new-migration.sh <name>}
cd "$(dirname "$0")/../prisma"
export PRISMA_OFFLINE=${PRISMA_OFFLINE:-1}
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/insta_migration_scratch
exec 9>/tmp/insta-prisma.lock
flock 9
psql -h 127.0.0.1 -U postgres -d postgres -qc 'DROP DATABASE IF EXISTS insta_migration_scratch WITH (FORCE)' \
  -c 'CREATE DATABASE insta_migration_scratch'
npx prisma migrate deploy
folder="migrations/$(date -u +%Y%m%d%H%M%S)_${name}"
mkdir -p "$folder"
npx prisma migrate diff --from-config-datasource --to-schema schema.prisma --script -o "$folder/migration.sql"
if ! grep -qv '^--' "$folder/migration.sql"; then
  rm -r "$folder"
  echo "schema.prisma matches the migrations: nothing to do"
else
  echo "created $folder"
fi
npx prisma generate
