#!/usr/bin/env bash
# make demo: build pinger, bring up Redis and Postgres, sweep 127.0.0.0/16 into both, and show where to look.
# Run as root on a fresh Debian machine (raw sockets; packages are installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PINGER_ALLOW=${PINGER_ALLOW:-127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32}
# Rust: Cargo.toml's rust-version or newer. Debian 13's cargo is new enough (installed when missing); Debian 12's
# is too old: then say what to do before anything else starts.
need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
export PATH="$PATH:$HOME/.cargo/bin${SUDO_USER:+:$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin}"
new_enough() { [ "$(printf '%s\n%s\n' "$need" "$1" | sort -V | head -n1)" = "$need" ]; }
if ! command -v cargo >/dev/null; then
  candidate=$(apt-cache policy cargo 2>/dev/null | sed -n 's/^ *Candidate: \([0-9.]*\).*/\1/p')
  if [ "$(id -u)" -eq 0 ] && [ -n "$candidate" ] && new_enough "$candidate"; then
    echo "demo: installing Debian's cargo $candidate"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo >/dev/null
  else
    echo "demo: pinger is built with Rust $need or newer, and there is no cargo here${candidate:+ (the Debian cargo package here is $candidate, too old)}." >&2
    echo "demo: install it with rustup (https://rustup.rs: curl --proto '=https' -sSf https://sh.rustup.rs | sh), then run make demo again." >&2
    exit 1
  fi
fi
have=$(cargo --version | cut -d' ' -f2)
new_enough "$have" || { echo "demo: cargo $have is older than Rust $need, which pinger needs: rustup update (or rustup, see https://rustup.rs)" >&2; exit 1; }
scripts/services.sh up
echo "demo: building pinger (release; a few minutes the first time, longer on a small machine)"
cargo build --release
bin=${CARGO_TARGET_DIR:-target}/release/pinger
"$bin" 127.0.0.0/16 --rate 0 --format none --no-progress --spool-dir .services/spool
rows=$(scripts/services.sh psql -Atc \
  "SELECT count(*) FROM pinger_data WHERE sweep_id = (SELECT id FROM sweeps ORDER BY started_at DESC LIMIT 1)")
keys=$(scripts/services.sh redis-cli dbsize)
echo
echo "demo: the last sweep stored $rows rows in Postgres; Redis holds $keys keys."
[ "$rows" -eq 65534 ] && [ "$keys" -ge 65534 ] || { echo "demo: expected 65534 rows and keys" >&2; exit 1; }
echo
echo "demo: the least available hosts over 24 hours (pinger report, from the rollups and the raw rows):"
"$bin" report --since 24h --limit 5
cat <<MSG

Is it up now?        make redis-cli ARGS='get 127.0.0.1'
                     $(scripts/services.sh redis-cli get 127.0.0.1)
How often was it down?
  make psql ARGS="-c 'SELECT * FROM host_availability_24h ORDER BY availability_pct, failures DESC LIMIT 10'"
  (also host_availability_7d and _30d, host_outages, host_hourly, host_daily: see README, "Storage")
  $bin report --since 24h
  $bin report 127.0.0.1 --since 365d
Adminer:             make adminer (it prints the address to open and where the password is)
MSG
