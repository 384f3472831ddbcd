#!/bin/sh
# Creates Temporal's two PostgreSQL databases, or brings them up to date: every step is a no-op
# on a database that is already there and current, so this runs before every server start.
# Runs in temporalio/admin-tools (docker-compose.yml); the schema files are built into
# temporal-sql-tool (--schema-name). src/dev/temporal-schema.ts does the same from Node.
# Environment: POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, SQL_PASSWORD, DBNAME, VISIBILITY_DBNAME.
set -eu

setup() { # <database> <schema name>
  echo "setup-schema: $1 ($2)"
  for step in create-database "setup-schema -v 0.0" "update-schema --schema-name $2"; do
    # $step is split on purpose: a command and its flags.
    # shellcheck disable=SC2086
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --db "$1" $step
  done
}

setup "${DBNAME:-temporal}" postgresql/v12/temporal
setup "${VISIBILITY_DBNAME:-temporal_visibility}" postgresql/v12/visibility
echo "setup-schema: done"
