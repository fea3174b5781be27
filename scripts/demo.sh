#!/usr/bin/env bash
# make demo: build pinger, bring up Redis and Postgres, sweep 127.0.0.0/16 into both, and show where to look.
# Run as root on a fresh Debian machine (raw sockets; packages are installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PINGER_ALLOW=${PINGER_ALLOW:-127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32}
scripts/services.sh up
cargo build --release -q
./target/release/pinger 127.0.0.0/16 --rate 0 --format none --no-progress --spool-dir .services/spool
rows=$(scripts/services.sh psql -Atc \
  "SELECT count(*) FROM pinger_data WHERE sweep_id = (SELECT id FROM sweeps ORDER BY started_at DESC LIMIT 1)")
keys=$(scripts/services.sh redis-cli dbsize)
echo
echo "demo: the last sweep stored $rows rows in Postgres; Redis holds $keys keys."
[ "$rows" -eq 65534 ] && [ "$keys" -ge 65534 ] || { echo "demo: expected 65534 rows and keys" >&2; exit 1; }
echo
echo "demo: the least available hosts over 24 hours (pinger report, from the rollups and the raw rows):"
./target/release/pinger report --since 24h --limit 5
cat <<MSG

Is it up now?        make redis-cli ARGS='get 127.0.0.1'
                     $(scripts/services.sh redis-cli get 127.0.0.1)
How often was it down?
  make psql ARGS="-c 'SELECT * FROM host_availability_24h ORDER BY availability_pct, failures DESC LIMIT 10'"
  (also host_availability_7d and _30d, host_outages, host_hourly, host_daily: see README, "Storage")
  ./target/release/pinger report --since 24h
  ./target/release/pinger report 127.0.0.1 --since 365d
Adminer:             make adminer (it prints the address to open and where the password is)
MSG
