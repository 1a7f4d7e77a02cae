#!/usr/bin/env bash
# Start (or stop) a throw-away MariaDB server on 127.0.0.1 for the tests.
#   scripts/mariadb.sh start   → prints the URL to export as QUINTO_TEST_MYSQL_URL
#   scripts/mariadb.sh stop
# Installs Debian's mariadb-server from apt when it is missing (the packaged service is not used:
# mariadbd runs as a plain process with its own datadir, port and socket under /tmp).
# Works as root (runs the server as `mysql`) or as any user (runs it as that user). Its root account
# has no password, like the PostgreSQL of scripts/pg.sh: a throw-away server for tests only.
set -euo pipefail
PORT="${QUINTO_MYSQL_PORT:-33069}"
DATA="${QUINTO_MYSQL_DATA:-/tmp/quinto-mariadb}"
URL="mysql+pymysql://quinto:quinto@127.0.0.1:${PORT}/quinto"
SOCK="$DATA/mariadb.sock"

owner_args() {
  if [ "$(id -u)" = "0" ]; then echo "--user=mysql"; fi
}

client() {
  mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"
}

running() {
  [ -S "$SOCK" ] && mariadb-admin --no-defaults --protocol=socket --socket="$SOCK" -uroot ping >/dev/null 2>&1
}

case "${1:-start}" in
  start)
    if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
      echo "installing MariaDB from apt ..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq mariadb-server >&2
    fi
    export PATH="$PATH:/usr/sbin"
    if running; then
      echo "$URL"; exit 0
    fi
    if [ ! -e "$DATA/initialised" ]; then
      rm -rf "$DATA"; mkdir -p "$DATA"
      [ "$(id -u)" = "0" ] && chown mysql:mysql "$DATA"
      mariadb-install-db --no-defaults --datadir="$DATA/db" $(owner_args) \
        --auth-root-authentication-method=normal --skip-test-db >"$DATA/install.log" 2>&1 \
        || { cat "$DATA/install.log" >&2; exit 1; }
      touch "$DATA/initialised"
    fi
    # the server detaches from this shell; its output goes to $DATA/server.log
    setsid mariadbd --no-defaults --datadir="$DATA/db" $(owner_args) \
      --bind-address=127.0.0.1 --port="$PORT" --socket="$SOCK" --pid-file="$DATA/mariadbd.pid" \
      --log-error="$DATA/server.log" --skip-log-bin --performance-schema=OFF \
      --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
      --max-connections=200 --character-set-server=utf8mb4 \
      </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 120); do
      running && break
      sleep 0.5
    done
    running || { echo "MariaDB did not start; see $DATA/server.log" >&2; tail -n 20 "$DATA/server.log" >&2; exit 1; }
    client -e "CREATE DATABASE IF NOT EXISTS quinto;
      CREATE USER IF NOT EXISTS 'quinto'@'127.0.0.1' IDENTIFIED BY 'quinto';
      CREATE USER IF NOT EXISTS 'quinto'@'localhost' IDENTIFIED BY 'quinto';
      GRANT ALL PRIVILEGES ON *.* TO 'quinto'@'127.0.0.1' WITH GRANT OPTION;
      GRANT ALL PRIVILEGES ON *.* TO 'quinto'@'localhost' WITH GRANT OPTION;"
    echo "$URL"
    ;;
  stop)
    export PATH="$PATH:/usr/sbin"
    if [ -s "$DATA/mariadbd.pid" ]; then
      pid=$(cat "$DATA/mariadbd.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
