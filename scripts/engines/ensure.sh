#!/usr/bin/env bash
# Used by `make test`: make sure the Spark Thrift Server (Hive), Trino and Presto servers run, so
# the engine tests run instead of skipping. A server already running (started by `make engines`,
# by .ci/run, or by an earlier `make test`) is used as it is and never started twice; a stopped one
# is started (downloaded once into ~/.cache/quinto) one after the other, without its smoke test,
# and left running for the next `make test` (`make engines-stop` stops them all).
#
# An engine that cannot be had (no suitable Java, no network for its first download, too little
# free memory, a failed start) is reported in one line and its tests skip, saying why (under
# CI=true they fail instead, see tests/conftest.py); this script itself always exits 0. A server
# not started by these scripts but listening on the engine's port is left alone: the tests use it.
#
# Env: QUINTO_ENGINES (1; 0 = start no engine server), QUINTO_TEST_HIVE_URL / QUINTO_TEST_TRINO_URL /
# QUINTO_TEST_PRESTO_URL (set = the tests use that server, nothing is started for it), and the
# variables of the engine scripts (ports, heaps, QUINTO_STATE, QUINTO_CACHE).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf 'make test: %s\n' "$*" >&2; }

if [[ "${QUINTO_ENGINES:-1}" == 0 ]]; then
    say "QUINTO_ENGINES=0: Spark Thrift, Trino and Presto are not started; tests needing a server that is not running skip"
    exit 0
fi

# megabytes from a JVM size such as 3G, 2g, 512m
mb() {
    local v="${1,,}"
    case "$v" in
    *g) echo $((${v%g} * 1024)) ;;
    *m) echo "${v%m}" ;;
    *) echo 0 ;;
    esac
}

# MemAvailable in MB, -1 when unknown (no /proc/meminfo: no check)
available_mb() {
    [[ -r /proc/meminfo ]] || { echo -1 && return; }
    awk '/^MemAvailable:/ {print int($2 / 1024); found = 1} END {if (!found) print -1}' /proc/meminfo
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# engine script, its test URL variable, its port, heap in MB (+ 1 GB for the rest of the JVM), name
for spec in \
    "spark-thrift QUINTO_TEST_HIVE_URL ${QUINTO_HIVE_PORT:-10000} $(mb "${QUINTO_SPARK_DRIVER_MEMORY:-2g}") Spark Thrift Server" \
    "trino QUINTO_TEST_TRINO_URL ${QUINTO_TRINO_PORT:-8080} $(mb "${QUINTO_TRINO_HEAP:-3G}") Trino" \
    "presto QUINTO_TEST_PRESTO_URL ${QUINTO_PRESTO_PORT:-8081} $(mb "${QUINTO_PRESTO_HEAP:-3G}") Presto"; do
    read -r script var port heap name <<<"$spec"
    if [[ -n "${!var:-}" ]]; then
        continue # the tests use the server the user named
    fi
    smoke="QUINTO_${script%%-*}_SMOKE"
    if "$HERE/$script.sh" status >/dev/null 2>&1; then
        # ours and running: `start` returns at once, or waits for a start still under way elsewhere
        env "${smoke^^}=0" "$HERE/$script.sh" start 2>/dev/null || true
        continue
    fi
    if port_open "$port"; then
        continue # another server on the engine's port: the tests use it
    fi
    need=$((heap + 1024))
    free="$(available_mb)"
    if ((free >= 0 && free < need)); then
        say "$name not started: it needs about ${need} MB and ${free} MB are available; its tests skip"
        continue
    fi
    say "starting $name (downloaded once into ~/.cache/quinto, left running: \`make engines-stop\` stops it)"
    if ! env "${smoke^^}=0" "$HERE/$script.sh" start; then
        say "$name could not be started (see above); its tests skip (QUINTO_ENGINES=0 make test does not try)"
    fi
done
exit 0
