#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL server on 127.0.0.1 for the tests.
#   scripts/pg.sh start   → prints the URL to export as QUINTO_TEST_PG_URL
#   scripts/pg.sh stop
# Installs PostgreSQL from apt when it is missing. Works as root (runs the server as `postgres`).
set -euo pipefail
PORT="${QUINTO_PG_PORT:-54329}"
DATA="${QUINTO_PG_DATA:-/tmp/quinto-pg}"
URL="postgresql+psycopg://quinto:quinto@127.0.0.1:${PORT}/quinto"

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    BIN=$(bindir || true)
    if [ -z "$BIN" ]; then
      echo "installing PostgreSQL from apt ..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
      BIN=$(bindir)
    fi
    if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      echo "$URL"; exit 0
    fi
    if [ ! -s "$DATA/PG_VERSION" ]; then
      rm -rf "$DATA"; mkdir -p "$DATA"
      [ "$(id -u)" = "0" ] && chown postgres:postgres "$DATA"
      as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
      cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = '${DATA}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
CONF
    fi
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null
    psql="$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -v ON_ERROR_STOP=1 -q"
    $psql -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='quinto'" | grep -q 1 \
      || $psql -d postgres -c "CREATE ROLE quinto LOGIN SUPERUSER PASSWORD 'quinto'"
    $psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='quinto'" | grep -q 1 \
      || $psql -d postgres -c "CREATE DATABASE quinto OWNER quinto"
    echo "$URL"
    ;;
  stop)
    BIN=$(bindir || true)
    [ -n "$BIN" ] && as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
