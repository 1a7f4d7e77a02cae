#!/usr/bin/env bash
# A real single-node Trino server from Maven Central (trino-server-core tar.gz
# plus the trino-memory and trino-hive plugin zips), cached by version.
#
#   scripts/engines/trino.sh start    # download (cached), configure, start, wait for SELECT 1, smoke test
#   scripts/engines/trino.sh stop     # graceful stop (TERM, then KILL after 60s)
#   scripts/engines/trino.sh status   # exit 0 if running, 3 if not
#   scripts/engines/trino.sh smoke    # memory + hive partitioned-table smoke test against a running server
#   scripts/engines/trino.sh install  # only download/unpack + client venv
#   scripts/engines/trino.sh reset    # stop and delete all state (metastore, tables, logs)
#
# Env: QUINTO_TRINO_PORT (8080), QUINTO_CACHE (~/.cache/quinto), QUINTO_STATE
# (/tmp/quinto-engines), QUINTO_TRINO_HEAP (3G), QUINTO_TRINO_QUERY_MEMORY (1GB), QUINTO_START_TIMEOUT (300),
# QUINTO_TRINO_JAVA_HOME (Java >= 24; default Temurin 25), QUINTO_TRINO_SMOKE
# (1 = run the smoke test after start; default 1).
set -euo pipefail

_ENGINE_NAME=trino
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_common.sh
. "$HERE/_common.sh"

TRINO_VERSION=476
TRINO_MIN_JAVA=24
TRINO_CLIENT_REQS=("trino==0.340.0")
PLUGINS=(memory hive)
PORT="${QUINTO_TRINO_PORT:-8080}"
HEAP="${QUINTO_TRINO_HEAP:-3G}"
QUERY_MEMORY="${QUINTO_TRINO_QUERY_MEMORY:-1GB}"  # per query and per node; below about 0.7 x the heap
START_TIMEOUT="${QUINTO_START_TIMEOUT:-300}"

CACHE_DIR="$QUINTO_CACHE/trino-$TRINO_VERSION"
DL_DIR="$CACHE_DIR/download"
HOME_DIR="$CACHE_DIR/trino-server-$TRINO_VERSION"
VENV="$CACHE_DIR/venv"
STATE="$QUINTO_STATE/trino"
PIDFILE="$STATE/server.pid"
LOGFILE="$STATE/server.log"
LOCK="$QUINTO_STATE/.trino.lock"
G="$MAVEN_REPO/io/trino"

java_home() {
    pick_java_home "$TRINO_MIN_JAVA" "${QUINTO_TRINO_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 \
        /usr/lib/jvm/temurin-24-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 "${JAVA_HOME:-}" ||
        die "Trino $TRINO_VERSION needs Java >= $TRINO_MIN_JAVA; none found (set QUINTO_TRINO_JAVA_HOME)"
}

install_server() {
    if [[ -f "$HOME_DIR/.quinto-ok" ]]; then
        return 0
    fi
    local core="$DL_DIR/trino-server-core-$TRINO_VERSION.tar.gz" p tmp
    fetch_verified "$G/trino-server-core/$TRINO_VERSION/trino-server-core-$TRINO_VERSION.tar.gz" "$core"
    for p in "${PLUGINS[@]}"; do
        fetch_verified "$G/trino-$p/$TRINO_VERSION/trino-$p-$TRINO_VERSION.zip" "$DL_DIR/trino-$p-$TRINO_VERSION.zip"
    done
    log "unpacking into $HOME_DIR"
    tmp="$CACHE_DIR/unpack.tmp"
    rm -rf "$tmp" "$HOME_DIR"
    mkdir -p "$tmp"
    tar -xzf "$core" -C "$tmp"
    # the tarball has a single top directory (trino-server-core-VERSION or trino-server-VERSION)
    local top
    top="$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)"
    [[ -n "$top" && -d "$top/lib" ]] || die "unexpected layout of $core"
    mkdir -p "$top/plugin"
    for p in "${PLUGINS[@]}"; do
        # python's zipfile instead of unzip(1), which a fresh Debian lacks
        "$QUINTO_PYTHON" -m zipfile -e "$DL_DIR/trino-$p-$TRINO_VERSION.zip" "$top/plugin/"
        # the zip unpacks to trino-<name>-<version>/; Trino names the plugin by directory
        if [[ -d "$top/plugin/trino-$p-$TRINO_VERSION" ]]; then
            rm -rf "$top/plugin/$p"
            mv "$top/plugin/trino-$p-$TRINO_VERSION" "$top/plugin/$p"
        fi
    done
    mv "$top" "$HOME_DIR"
    rm -rf "$tmp"
    touch "$HOME_DIR/.quinto-ok"
    log "installed Trino $TRINO_VERSION ($(du -sh "$HOME_DIR" | cut -f1))"
}

do_install() {
    install_server
    ensure_venv "$VENV" "${TRINO_CLIENT_REQS[@]}"
}

write_config() {
    local etc="$STATE/etc"
    mkdir -p "$etc/catalog" "$STATE/data" "$STATE/tmp" "$STATE/hive/metastore"
    rm -f "$etc/catalog/"*.properties
    cat >"$etc/node.properties" <<EOF
node.environment=quinto
node.id=quinto-trino-local
node.data-dir=$STATE/data
node.internal-address=127.0.0.1
node.bind-ip=127.0.0.1
EOF
    cat >"$etc/jvm.config" <<EOF
-server
-Xmx$HEAP
-Xms$HEAP
-XX:InitialRAMPercentage=10
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-XX:+EnableDynamicAgentLoading
--enable-native-access=ALL-UNNAMED
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-Djava.io.tmpdir=$STATE/tmp
EOF
    cat >"$etc/config.properties" <<EOF
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$PORT
discovery.uri=http://127.0.0.1:$PORT
query.max-memory=$QUERY_MEMORY
query.max-memory-per-node=$QUERY_MEMORY
task.concurrency=2
EOF
    cat >"$etc/log.properties" <<EOF
io.trino=INFO
EOF
    cat >"$etc/catalog/memory.properties" <<EOF
connector.name=memory
memory.max-data-per-node=256MB
EOF
    cat >"$etc/catalog/hive.properties" <<EOF
connector.name=hive
hive.metastore=file
hive.metastore.catalog.dir=local:///metastore
fs.native-local.enabled=true
local.location=$STATE/hive
hive.non-managed-table-writes-enabled=true
# no metastore cache between queries (also the default): a partition committed by one statement is
# listed by the next, as a sensor polling "\$partitions" needs
hive.metastore-cache-ttl=0s
EOF
}

running() { pid_alive "$PIDFILE"; }

do_start() {
    if running; then
        log "already running (pid $(cat "$PIDFILE"), port $PORT)"
        return 0
    fi
    rm -f "$PIDFILE"
    if port_open "$PORT"; then
        die "port 127.0.0.1:$PORT is already in use by another process (set QUINTO_TRINO_PORT)"
    fi
    local jh t0
    jh="$(java_home)" # before the download: without a suitable Java there is nothing to fetch
    do_install
    write_config
    # the launcher refuses to start while its own pid file names a live pid;
    # a just-stopped server can linger as a zombie for a moment, and we know
    # from our own pid file that no server of ours runs
    rm -f "$STATE/data/var/run/launcher.pid"
    t0="$(now_s)"
    log "starting Trino $TRINO_VERSION on 127.0.0.1:$PORT (java: $jh, heap $HEAP, log: $LOGFILE)"
    : >"$LOGFILE"
    launch_bg "$LOGFILE" "$PIDFILE" "$STATE" \
        env JAVA_HOME="$jh" PATH="$jh/bin:$PATH" \
        "$HOME_DIR/bin/launcher" run --etc-dir="$STATE/etc" --data-dir="$STATE/data"
    log "pid $(cat "$PIDFILE"); waiting up to ${START_TIMEOUT}s for 'SELECT 1'"
    if ! "$VENV/bin/python" "$HERE/_probe.py" trino-ready --port "$PORT" --timeout "$START_TIMEOUT" --pid "$(cat "$PIDFILE")"; then
        show_log_tail "$LOGFILE" 80
        stop_pidfile "$PIDFILE" 30 || true
        die "Trino did not become ready on 127.0.0.1:$PORT"
    fi
    log "ready on 127.0.0.1:$PORT after $(($(now_s) - t0))s"
    if [[ "${QUINTO_TRINO_SMOKE:-1}" == 1 ]]; then
        do_smoke
    fi
}

do_smoke() {
    running || die "not running"
    "$VENV/bin/python" "$HERE/_probe.py" trino-smoke --port "$PORT" || {
        show_log_tail "$LOGFILE" 80
        die "smoke test failed"
    }
}

do_stop() { stop_pidfile "$PIDFILE" 60; }

do_reset() {
    do_stop
    rm -rf "$STATE"
    log "state removed"
}

do_status() {
    if running; then
        echo "trino: running, pid $(cat "$PIDFILE"), http://127.0.0.1:$PORT, log $LOGFILE"
        return 0
    fi
    echo "trino: stopped"
    return 3
}

case "${1:-}" in
start) with_lock "$LOCK" do_start ;;
stop) with_lock "$LOCK" do_stop ;;
restart)
    with_lock "$LOCK" do_stop
    with_lock "$LOCK" do_start
    ;;
status) do_status ;;
smoke) do_smoke ;;
install) with_lock "$LOCK" do_install ;;
reset) with_lock "$LOCK" do_reset ;;
*)
    echo "usage: $0 start|stop|restart|status|smoke|install|reset" >&2
    exit 2
    ;;
esac
