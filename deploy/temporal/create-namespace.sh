#!/bin/sh
# Creates Herald's namespace and registers the search attributes its workflows upsert; both are
# skipped when already there, so this runs after every server start. Runs in
# temporalio/admin-tools (docker-compose.yml) with the `temporal` CLI; src/dev/temporal-namespace.ts
# does the same from Node. The list must match src/shared/search-attributes.ts (a test checks).
# Environment: TEMPORAL_ADDRESS, NAMESPACE, RETENTION.
set -eu
ns="${NAMESPACE:-default}"

# The frontend answers a few seconds after the container starts.
tries=0
until temporal operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "create-namespace: no Temporal server at $TEMPORAL_ADDRESS" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "create-namespace: $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention "${RETENTION:-72h}"
fi

existing="$(temporal operator search-attribute list --namespace "$ns")"
for attribute in HeraldStatus:Keyword HeraldEmailId:Keyword HeraldTenant:Keyword \
  HeraldRecipientDomains:KeywordList HeraldTags:KeywordList; do
  name="${attribute%%:*}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "create-namespace: search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$ns" --name "$name" --type "${attribute#*:}"
  fi
done
