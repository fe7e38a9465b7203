#!/usr/bin/env bash
# Creates a Prisma migration from the current schema.prisma, safely when several people edit it at once:
# under a lock, on a scratch database brought up to date first; then regenerates the client.
#   scripts/new-migration.sh <name>
set -euo pipefail
name=${1:?usage: scripts/new-migration.sh <name>}
cd "$(dirname "$0")/../prisma"
export PRISMA_OFFLINE=${PRISMA_OFFLINE:-1}
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/insta_migration_scratch
exec 9>/tmp/insta-prisma.lock
flock 9
psql -h 127.0.0.1 -U postgres -d postgres -qc 'DROP DATABASE IF EXISTS insta_migration_scratch WITH (FORCE)' -c 'CREATE DATABASE insta_migration_scratch'
npx prisma migrate deploy
npx prisma migrate dev --create-only --name "$name"
npx prisma generate
