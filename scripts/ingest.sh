#!/usr/bin/env bash
# Ingest: what the stores add to a sweep (issue 11's ratio). Sweeps LIST with BINARY four ways per round,
# alternated: --no-store, both stores, Redis only (--no-postgres), Postgres only (--no-redis), into the stores the
# environment names (DATABASE_URL, REDIS_URL; PINGER_SPOOL_DIR for the spool), and prints the median wall time of
# each and its ratio to --no-store.
#   scripts/ingest.sh BINARY LIST [ROUNDS]     e.g. scripts/ingest.sh target/release/pinger hosts-60000.txt 7
# To compare two builds, give each its own database and run this once per build, interleaved. One warm-up sweep
# with both stores comes first (it applies the schema). As root (raw socket). Only LIST is swept, never a default.
set -euo pipefail
bin=$1 list=$2 rounds=${3:-7}
[ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ] || { echo "ingest: set DATABASE_URL and REDIS_URL" >&2; exit 2; }
times=$(mktemp)
trap 'rm -f "$times"' EXIT
sweep() { # name, extra flags
  local start end
  start=$(date +%s%N)
  "$bin" --hosts-file "$list" --count 0 --rate 0 --timeout 1000 --format none --no-progress "${@:2}" >/dev/null 2>&1 \
    || { echo "ingest: $1 failed" >&2; exit 1; }
  end=$(date +%s%N)
  echo "$1 $(( (end - start) / 1000 ))" >>"$times"
}
sweep warm-up
: >"$times"
for _ in $(seq "$rounds"); do
  sweep no-store --no-store
  sweep both
  sweep redis --no-postgres
  sweep postgres --no-redis
done
sort -k1,1 -k2n "$times" | awk '
  { t[$1, ++n[$1]] = $2 }
  END {
    split("no-store both redis postgres", order, " ")
    for (i = 1; i <= 4; i++) { k = order[i]; m[k] = t[k, int((n[k] + 1) / 2)] }
    for (i = 1; i <= 4; i++) { k = order[i]; printf "ingest: %-9s median %.3f s  %.2fx --no-store\n", k, m[k] / 1e6, m[k] / m["no-store"] }
  }'
