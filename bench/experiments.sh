#!/usr/bin/env bash
# Runs the benchmark once per setting and prints one line per run, to compare settings (see
# BENCHMARKS.md, "What was tried"). Usage: bash bench/experiments.sh [N] [group...]
# Groups: temporal (dev-server flags; closed loop + B1), worker (concurrency, pools; closed loop
# only). Run `npm run build && npx tsc -p tsconfig.bench.json` first. Each line takes 1-3 minutes;
# each run's stderr is kept in ${BENCH_LOGS:-/tmp}/bench-exp-<label>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
N="${1:-1500}"
shift || true
GROUPS_WANTED="${*:-temporal worker}"
LOGS="${BENCH_LOGS:-/tmp}"
run() {
  local label="$1"; shift
  local out log
  log="$LOGS/bench-exp-$(echo "$label" | tr -c 'A-Za-z0-9=.-' '_').log"
  out="$(node dist-bench/bench/run.js --skip-b0 --skip-open --n "$N" --b1 "$N" "$@" 2>"$log" | tail -1)"
  node -e '
    const [label, line, log] = process.argv.slice(1);
    try {
      const j = JSON.parse(line);
      const b1 = j.b1_cpu_ms_per_workflow || {};
      const b1cpu = Object.values(b1).reduce((a, b) => a + b, 0);
      const c = j.cpu_ms_per_email || {};
      console.log([label.padEnd(40), "herald", String(j.herald_delivered_per_s).padStart(5), "/s", String(j.cpu_ms_per_email_total).padStart(6),
        "ms/email (worker", c.worker, "temporal", c.temporal, "api", c.api, "pg", c.postgres, ")",
        j.b1_per_s == null ? "" : `| B1 ${String(j.b1_per_s).padStart(5)}/s ${b1cpu.toFixed(1)} ms/wf (temporal ${b1.temporal}, worker ${b1.b1worker})`,
        "| others", j.others_cpu_pct + "%" + (j.b1_others_cpu_pct == null ? "" : "/" + j.b1_others_cpu_pct + "%")].join(" "));
    } catch { console.log(label.padEnd(40), "FAILED, see", log); }
  ' "$label" "$out" "$log"
}
WAL="--sqlite-pragma journal_mode=wal"
SYNC="--sqlite-pragma synchronous=normal"
EAGER="--dynamic-config-value system.enableActivityEagerExecution=true"
for group in $GROUPS_WANTED; do
  case "$group" in
    temporal)
      run "temporal: defaults (WAL+sync=normal+eager)"
      run "temporal: no tuning flags" --temporal-flags none
      run "temporal: WAL only" --temporal-flags "$WAL"
      run "temporal: WAL + synchronous=normal" --temporal-flags "$WAL $SYNC"
      run "temporal: WAL + synchronous=off + eager" --temporal-flags "$WAL --sqlite-pragma synchronous=off $EAGER"
      GOGC=400 run "temporal: defaults + GOGC=400"
      ;;
    worker)
      run "worker: defaults" --skip-b1 --skip-b2
      run "worker: activities 20" --skip-b1 --skip-b2 --worker-activities 20
      run "worker: activities 300" --skip-b1 --skip-b2 --worker-activities 300
      run "worker: workflow tasks 20" --skip-b1 --skip-b2 --worker-workflow-tasks 20
      run "smtp pool 1" --skip-b1 --skip-b2 --smtp-pool 1
      run "smtp pool 20" --skip-b1 --skip-b2 --smtp-pool 20
      run "db pool 4" --skip-b1 --skip-b2 --db-pool 4
      run "db pool 30" --skip-b1 --skip-b2 --db-pool 30
      ;;
    *) echo "unknown group $group" >&2 ;;
  esac
done
