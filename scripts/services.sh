#!/usr/bin/env bash
# Redis and PostgreSQL for pinger, on 127.0.0.1 only:
#   scripts/services.sh up     start them (Docker Compose when a Docker engine answers; otherwise Debian's
#                              packages, run as local processes, their data kept across restarts in
#                              /var/lib/pinger/services-HASH as root (a directory per checkout, reachable by the
#                              postgres user wherever the checkout is, even in a 0700 home), else .services/)
#   scripts/services.sh down   stop them (the data stays)
#   scripts/services.sh psql [ARGS]       psql into pinger's database (make psql ARGS=...)
#   scripts/services.sh redis-cli [ARGS]  redis-cli on pinger's Redis (make redis-cli ARGS=...)
#   scripts/services.sh adminer           Adminer on 127.0.0.1:ADMINER_PORT (8080), logged-in form filled in
# Settings come from .env (created from .env.example with a random password when missing). Every variable may be
# left out, as in the original tool's .env: then the defaults pinger itself uses (Postgres 127.0.0.1:5432, user
# postgres, database pinger; Redis 127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .env ]; then
  pw=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
  sed "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$pw/" .env.example > .env
  chmod 600 .env
  echo "services: wrote .env with a new random Postgres password"
fi
set -a; . ./.env; set +a
: "${POSTGRES_HOST:=127.0.0.1}" "${POSTGRES_PORT:=5432}" "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=pinger}"
: "${REDIS_HOST:=127.0.0.1}" "${REDIS_PORT:=6379}"
[ -n "${POSTGRES_PASSWORD:-}" ] || { echo "services: .env has no POSTGRES_PASSWORD: set one" >&2; exit 2; }

# The clients, with the settings of .env (passwords through the environment, never on a command line).
case "${1:-up}" in
  psql)
    shift
    PGPASSWORD=$POSTGRES_PASSWORD exec psql -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@" ;;
  redis-cli)
    shift
    # (An empty REDISCLI_AUTH would make redis-cli send an empty AUTH: set only when there is a password.)
    if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH=$REDIS_PASSWORD; fi
    exec redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@" ;;
  adminer)
    # Debian's adminer on 127.0.0.1, opening on PostgreSQL with server, user and database filled in (Adminer
    # takes them from the URL); / leads there too.
    port=${ADMINER_PORT:-8080}
    login="/adminer.php?pgsql=$POSTGRES_HOST:$POSTGRES_PORT&username=$POSTGRES_USER&db=$POSTGRES_DB"
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    ln -s /usr/share/adminer/adminer.php "$dir/adminer.php"
    printf '<?php header("Location: %s");\n' "$login" > "$dir/index.php"
    echo "adminer: open http://127.0.0.1:$port$login"
    echo "adminer: the password is POSTGRES_PASSWORD in $PWD/.env (Ctrl-C stops Adminer)"
    php -S "127.0.0.1:$port" -t "$dir"
    exit ;;
esac

# Compose v2 (the docker plugin), or v1 (Debian 12's docker-compose package).
if docker compose version >/dev/null 2>&1; then compose=(docker compose); wait=(--wait); else compose=(docker-compose); wait=(); fi
# PINGER_SERVICES_NO_DOCKER=1: Debian's packages even where a Docker engine answers (the tests use it).
if [ -z "${PINGER_SERVICES_NO_DOCKER:-}" ] && docker info >/dev/null 2>&1 && command -v "${compose[0]}" >/dev/null; then
  case "${1:-up}" in
    up)
      "${compose[@]}" up -d "${wait[@]}" postgres redis adminer
      # v1 has no --wait: wait for Postgres here, or the first sweep would only spool.
      for _ in $(seq 60); do "${compose[@]}" exec -T postgres pg_isready -q && break; sleep 1; done
      "${compose[@]}" exec -T postgres pg_isready -q || { echo "services: postgres is not ready after 60 s" >&2; exit 1; } ;;
    down) "${compose[@]}" stop postgres redis adminer ;;
  esac
  exit 0
fi

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -n "${PINGER_SERVICES_DIR:-}" ]; then
  data=$PINGER_SERVICES_DIR
elif [ "$(id -u)" -eq 0 ]; then
  data=/var/lib/pinger/services-$(printf '%s' "$PWD" | sha256sum | head -c 12)
else
  data=$PWD/.services
fi
# The servers run as postgres: they must reach their data, and must not need the checkout (a private home).
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
pg_start() {
  as_postgres "$pgbin/pg_ctl" -D "$data/pg" -w -l "$data/pg/log" \
    -o "-p $POSTGRES_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
}
case "${1:-up}" in
  up)
    if [ -z "$pgbin" ] || ! command -v redis-server >/dev/null; then
      [ "$(id -u)" -eq 0 ] || { echo "services: install postgresql and redis-server (as root)" >&2; exit 1; }
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
      pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    fi
    mkdir -p "$data/redis"
    chmod 755 "$data"; [ "$(dirname "$data")" = /var/lib/pinger ] && chmod 755 /var/lib/pinger
    if [ ! -f "$data/pg/PG_VERSION" ]; then
      mkdir -p "$data/pg"; chown postgres: "$data/pg"; chmod 700 "$data/pg"
      pwfile=$(mktemp); printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"; chown postgres: "$pwfile"
      as_postgres "$pgbin/initdb" -D "$data/pg" -U "$POSTGRES_USER" -A scram-sha-256 --pwfile="$pwfile" >/dev/null
      rm -f "$pwfile"
    fi
    if ! as_postgres "$pgbin/pg_ctl" -D "$data/pg" status >/dev/null 2>&1; then
      pg_start
    fi
    # Data kept from an earlier .env (a new clone or a deleted .env writes a new random password; another
    # POSTGRES_USER): .env is what counts, so its user and password are set in the data, and the data is kept.
    if ! err=$(PGPASSWORD=$POSTGRES_PASSWORD "$pgbin/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" \
        -d postgres -Atqc 'SELECT 1' 2>&1 >/dev/null); then
      case "$err" in
        *"password authentication failed"*|*"role \"$POSTGRES_USER\" does not exist"*) ;;
        *) echo "$err" >&2; exit 1 ;;
      esac
      echo "services: the data in $data was made with another .env: setting .env's user and password in it"
      as_postgres "$pgbin/pg_ctl" -D "$data/pg" -m fast -w stop >/dev/null
      # Single-user mode, as the user who owns the data: no login needed. The password goes over stdin, never on
      # a command line; each line is one statement (the CREATE fails harmlessly when the user exists).
      # (A user of the earlier .env keeps its own login: drop it by hand if it should go.)
      user=${POSTGRES_USER//\"/\"\"}; pw=${POSTGRES_PASSWORD//\'/\'\'}
      log=$(mktemp)
      if ! printf 'CREATE ROLE "%s"\nALTER ROLE "%s" SUPERUSER LOGIN PASSWORD \x27%s\x27\n' "$user" "$user" "$pw" |
        as_postgres "$pgbin/postgres" --single -D "$data/pg" postgres >"$log" 2>&1; then
        echo "services: could not set them (postgres --single said:)" >&2; grep -v PASSWORD "$log" >&2 || true
        rm -f "$log"; pg_start; exit 1
      fi
      rm -f "$log"
      pg_start
    fi
    echo "SELECT 1 FROM pg_database WHERE datname = :'db'" |
      PGPASSWORD=$POSTGRES_PASSWORD "$pgbin/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres \
        -Atq -v db="$POSTGRES_DB" | grep -q 1 ||
      PGPASSWORD=$POSTGRES_PASSWORD "$pgbin/createdb" -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" "$POSTGRES_DB"
    if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
      redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$data/redis" \
        --appendonly yes --pidfile "$data/redis/redis.pid" --logfile "$data/redis/redis.log"
      for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    echo "services: postgres on 127.0.0.1:$POSTGRES_PORT (database $POSTGRES_DB), redis on 127.0.0.1:$REDIS_PORT; data in $data"
    ;;
  down)
    [ -n "$pgbin" ] && [ -f "$data/pg/PG_VERSION" ] &&
      as_postgres "$pgbin/pg_ctl" -D "$data/pg" -m fast -w stop >/dev/null 2>&1 || true
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    echo "services: stopped (data kept in $data)"
    ;;
  *) echo "usage: $0 up|down|psql [ARGS]|redis-cli [ARGS]|adminer" >&2; exit 2 ;;
esac
