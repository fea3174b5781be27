#!/usr/bin/env bash
# Soak: pinger in continuous mode (--every) for SWEEPS sweeps of a list, with whatever stores the environment
# names (DATABASE_URL, REDIS_URL), sampling its resident memory and open descriptors once a second.
#   scripts/soak.sh BINARY LIST SWEEPS [EVERY]     e.g. scripts/soak.sh target/release/pinger hosts-20000.txt 300 1s
# Prints one line per sample (seconds, sweeps done, RSS in KB, descriptors), then the range of each after the
# first 10 sweeps (warm-up), and exits with pinger's exit code. As root (raw socket).
set -euo pipefail
bin=$1 list=$2 sweeps=$3 every=${4:-1s}
log=$(mktemp)
"$bin" --every "$every" --hosts-file "$list" --count 0 --rate 0 --format none --no-progress 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
start=$(date +%s)
samples=$(mktemp)
while kill -0 $pid 2>/dev/null; do
  done_=$(grep -c ' hosts: ' "$log" || true)
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
  fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
  echo "$(( $(date +%s) - start )) $done_ $rss $fds" | tee -a "$samples"
  if [ "$done_" -ge "$sweeps" ]; then kill -TERM $pid; break; fi
  sleep 1
done
wait $pid && rc=0 || rc=$?
awk '$2 >= 10 { if (!n++ || $3 < rmin) rmin = $3; if ($3 > rmax) rmax = $3; if (!m++ || $4 < fmin) fmin = $4; if ($4 > fmax) fmax = $4 }
     END { printf "soak: %d samples after 10 sweeps: RSS %d-%d KB, descriptors %d-%d\n", n, rmin, rmax, fmin, fmax }' "$samples"
echo "soak: $(grep -c ' hosts: ' "$log" || true) sweeps; pinger exited $rc; its last summary:"
grep ' hosts: ' "$log" | tail -1
rm -f "$samples"
exit $rc
