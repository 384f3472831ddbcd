#!/usr/bin/env bash
# Herald's bench bundle: runs the benchmark with nothing but what the bundle holds.
#
#   ./run.sh [--workers-list 1,2,4,8] [--work-dir DIR] [--results DIR] [--pin auto|off|PLAN] [bench options]
#   ./run.sh --help
#
# Uses the bundle's own node (node/bin/node), PostgreSQL (embedded-postgres, started in the work
# folder), Temporal CLI (cache/herald/bin) and smtp-sink (cache/herald/postfix); from the machine
# only glibc, the C++ runtime (else lib/fallback), bash, id and test (coreutils), and taskset
# (util-linux) when present, for pinning. Results: results/<time>/results.jsonl, summary.txt, bench-<N>.log.
# Built by `npm run bench:bundle` (bench/bundle/build.ts); this file is bench/bundle/run.sh.
set -euo pipefail

B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

# PATH: the bundle's node and Temporal CLI, and a folder of links to the few system tools the
# bench runs (nothing else of the machine's: no node, go, psql, postgres or temporal of its own).
tools="$B/.path"
rm -rf "$tools"
mkdir -p "$tools"
for tool in bash sh id test taskset perf; do
  if found="$(type -P "$tool")"; then ln -s "$found" "$tools/$tool"; fi
done
export PATH="$B/node/bin:$B/cache/herald/bin:$tools"
# Herald's binary cache is the bundle's: the Temporal CLI and smtp-sink are found there, nothing is downloaded or built.
export XDG_CACHE_HOME="$B/cache"
export HERALD_CACHE="$B/cache/herald"
export TEMPORAL_CLI="$B/cache/herald/bin/temporal"
[[ -x "$B/cache/herald/bin/temporal-server" ]] && export TEMPORAL_SERVER="$B/cache/herald/bin/temporal-server"
[[ -x "$B/cache/herald/bin/temporal-sql-tool" ]] && export TEMPORAL_SQL_TOOL="$B/cache/herald/bin/temporal-sql-tool"
unset NODE_OPTIONS NODE_PATH
export TMPDIR="${TMPDIR:-/tmp}"

node="$B/node/bin/node"
if ! "$node" --version >/dev/null 2>&1; then
  # A machine without the C++ runtime: the bundle's copy (node and the sink's ICU need it).
  export LD_LIBRARY_PATH="$B/lib/fallback${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if ! "$node" --version >/dev/null 2>&1; then
    echo "run.sh: $node does not start on this machine (it needs Linux x86-64 with glibc; see BUNDLE.json glibc_needed):" >&2
    "$node" --version >&2 || true
    exit 1
  fi
  for lib in "$B"/lib/fallback/*; do
    ln -sf "$lib" "$B/cache/herald/postfix/usr/lib/postfix/$(basename "$lib")"
  done
  echo "run.sh: using the bundle's C++ runtime (lib/fallback)" >&2
fi

exec "$node" "$B/dist-bench/bench/bundle/run.js" "$@"
