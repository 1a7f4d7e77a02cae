#!/usr/bin/env bash
# A real single-node PrestoDB server from Maven Central
# (com.facebook.presto:presto-server tar.gz), cached by version.
#
#   scripts/engines/presto.sh start    # download (cached), configure, start, wait for SELECT 1, smoke test
#   scripts/engines/presto.sh stop     # stop (TERM, then KILL after 60s)
#   scripts/engines/presto.sh status   # exit 0 if running, 3 if not
#   scripts/engines/presto.sh smoke    # memory + hive partitioned-table smoke test against a running server
#   scripts/engines/presto.sh install  # only download/unpack + client venv
#   scripts/engines/presto.sh reset    # stop and delete all state (metastore, tables, logs)
#
# Env: QUINTO_PRESTO_PORT (8081), QUINTO_CACHE (~/.cache/quinto), QUINTO_STATE
# (/tmp/quinto-engines), QUINTO_PRESTO_HEAP (3G), QUINTO_START_TIMEOUT (300),
# QUINTO_PRESTO_JAVA_HOME (Java 17), QUINTO_PRESTO_SMOKE (1 = smoke test after start; default 1).
set -euo pipefail

_ENGINE_NAME=presto
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_common.sh
. "$HERE/_common.sh"

PRESTO_VERSION=0.287
ASM_VERSION=9.7.1
PRESTO_CLIENT_REQS=("presto-python-client==0.8.4")
# only these plugins are unpacked from the 2 GB tarball
PLUGINS=(memory hive-hadoop2)
PORT="${QUINTO_PRESTO_PORT:-8081}"
HEAP="${QUINTO_PRESTO_HEAP:-3G}"
START_TIMEOUT="${QUINTO_START_TIMEOUT:-300}"

CACHE_DIR="$QUINTO_CACHE/presto-$PRESTO_VERSION"
DL_DIR="$CACHE_DIR/download"
HOME_DIR="$CACHE_DIR/presto-server-$PRESTO_VERSION"
VENV="$CACHE_DIR/venv"
STATE="$QUINTO_STATE/presto"
PIDFILE="$STATE/server.pid"
LOGFILE="$STATE/server.log"
LOCK="$QUINTO_STATE/.presto.lock"
TARBALL_URL="$MAVEN_REPO/com/facebook/presto/presto-server/$PRESTO_VERSION/presto-server-$PRESTO_VERSION.tar.gz"

java_home() {
    pick_java_home 17 "${QUINTO_PRESTO_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 "${JAVA_HOME:-}" ||
        die "no Java >= 17 found (set QUINTO_PRESTO_JAVA_HOME)"
}

install_server() {
    if [[ -f "$HOME_DIR/.quinto-ok" ]]; then
        return 0
    fi
    local tgz="$DL_DIR/presto-server-$PRESTO_VERSION.tar.gz" tmp top="presto-server-$PRESTO_VERSION" p
    fetch_verified "$TARBALL_URL" "$tgz"
    log "unpacking lib/ and plugins (${PLUGINS[*]}) into $HOME_DIR"
    tmp="$CACHE_DIR/unpack.tmp"
    rm -rf "$tmp" "$HOME_DIR"
    mkdir -p "$tmp"
    local members=("$top/lib" "$top/bin")
    for p in "${PLUGINS[@]}"; do members+=("$top/plugin/$p"); done
    tar -xzf "$tgz" -C "$tmp" "${members[@]}"
    # Presto 0.287 ships ASM 9.0, which cannot read Java 17 class files
    # ("Unsupported class file major version 61" while Drift generates its
    # Thrift codecs at startup). Swap in a newer ASM from Maven Central.
    local jar dir base art
    for dir in "$tmp/$top/lib" "$tmp/$top/plugin/"*; do
        for jar in "$dir"/asm*-9.0.jar; do
            [[ -f "$jar" ]] || continue
            base="$(basename "$jar")"
            art="${base%-9.0.jar}"
            fetch_verified "$MAVEN_REPO/org/ow2/asm/$art/$ASM_VERSION/$art-$ASM_VERSION.jar" "$DL_DIR/$art-$ASM_VERSION.jar"
            rm -f "$jar"
            cp "$DL_DIR/$art-$ASM_VERSION.jar" "$dir/"
        done
    done
    mv "$tmp/$top" "$HOME_DIR"
    rm -rf "$tmp"
    # the 2 GB tarball is not needed once unpacked; keep its sha1 as a record
    if [[ "${QUINTO_PRESTO_KEEP_TARBALL:-0}" != 1 ]]; then
        rm -f "$tgz"
    fi
    touch "$HOME_DIR/.quinto-ok"
    log "installed Presto $PRESTO_VERSION ($(du -sh "$HOME_DIR" | cut -f1))"
}

do_install() {
    install_server
    ensure_venv "$VENV" "${PRESTO_CLIENT_REQS[@]}"
}

write_config() {
    local etc="$STATE/etc"
    mkdir -p "$etc/catalog" "$STATE/data" "$STATE/tmp" "$STATE/hive/metastore"
    rm -f "$etc/catalog/"*.properties
    cat >"$etc/node.properties" <<EOF
node.environment=quinto
node.id=quinto-presto-local
node.data-dir=$STATE/data
node.internal-address=127.0.0.1
node.bind-ip=127.0.0.1
EOF
    cat >"$etc/jvm.config" <<EOF
-server
-Xmx$HEAP
-Xms$HEAP
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-Djava.io.tmpdir=$STATE/tmp
--add-opens=java.base/java.lang=ALL-UNNAMED
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED
--add-opens=java.base/java.lang.invoke=ALL-UNNAMED
--add-opens=java.base/java.io=ALL-UNNAMED
--add-opens=java.base/java.net=ALL-UNNAMED
--add-opens=java.base/java.nio=ALL-UNNAMED
--add-opens=java.base/java.util=ALL-UNNAMED
--add-opens=java.base/java.util.concurrent=ALL-UNNAMED
--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
--add-opens=java.base/java.security=ALL-UNNAMED
--add-opens=java.base/javax.security.auth=ALL-UNNAMED
--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
--add-opens=java.base/sun.security.action=ALL-UNNAMED
--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED
--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
--add-opens=java.management/sun.management=ALL-UNNAMED
--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED
-Dio.netty.tryReflectionSetAccessible=true
-Dcom.sun.management.jmxremote.host=127.0.0.1
-Djava.rmi.server.hostname=127.0.0.1
EOF
    cat >"$etc/config.properties" <<EOF
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$PORT
discovery-server.enabled=true
discovery.uri=http://127.0.0.1:$PORT
query.max-memory=1GB
query.max-memory-per-node=1GB
query.max-total-memory-per-node=1GB
task.concurrency=2
plugin.dir=$HOME_DIR/plugin
catalog.config-dir=$etc/catalog
EOF
    cat >"$etc/log.properties" <<EOF
com.facebook.presto=INFO
EOF
    cat >"$etc/catalog/memory.properties" <<EOF
connector.name=memory
memory.max-data-per-node=256MB
EOF
    cat >"$etc/catalog/hive.properties" <<EOF
connector.name=hive-hadoop2
hive.metastore=file
hive.metastore.catalog.dir=file://$STATE/hive/metastore
hive.non-managed-table-writes-enabled=true
# no metastore cache between queries (also the default): a partition committed by one statement is
# listed by the next, as a sensor polling "\$partitions" needs
hive.metastore-cache-ttl=0s
hive.metastore-refresh-interval=0s
# legacy security (the default) forbids DROP/ALTER unless allowed one by one
hive.allow-drop-table=true
hive.allow-rename-table=true
hive.allow-add-column=true
hive.allow-drop-column=true
hive.allow-rename-column=true
EOF
}

running() { pid_alive "$PIDFILE"; }

# The bundled bin/launcher is a Python script that wants a `python` on PATH
# (absent on Debian 12); build the same java command line ourselves.
java_cmd() {
    local jh="$1" etc="$STATE/etc" line
    JAVA_CMD=("$jh/bin/java" -cp "$HOME_DIR/lib/*")
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        JAVA_CMD+=("$line")
    done <"$etc/jvm.config"
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        JAVA_CMD+=("-D$line")
    done <"$etc/node.properties"
    JAVA_CMD+=("-Dlog.levels-file=$etc/log.properties" "-Dconfig=$etc/config.properties")
    JAVA_CMD+=(com.facebook.presto.server.PrestoServer)
}

do_start() {
    if running; then
        log "already running (pid $(cat "$PIDFILE"), port $PORT)"
        return 0
    fi
    rm -f "$PIDFILE"
    if port_open "$PORT"; then
        die "port 127.0.0.1:$PORT is already in use by another process (set QUINTO_PRESTO_PORT)"
    fi
    local jh t0
    jh="$(java_home)" # before the download: without a suitable Java there is nothing to fetch
    do_install
    write_config
    java_cmd "$jh"
    t0="$(now_s)"
    log "starting Presto $PRESTO_VERSION on 127.0.0.1:$PORT (java: $jh, heap $HEAP, log: $LOGFILE)"
    : >"$LOGFILE"
    launch_bg "$LOGFILE" "$PIDFILE" "$STATE/data" env JAVA_HOME="$jh" "${JAVA_CMD[@]}"
    log "pid $(cat "$PIDFILE"); waiting up to ${START_TIMEOUT}s for 'SELECT 1'"
    if ! "$VENV/bin/python" "$HERE/_probe.py" presto-ready --port "$PORT" --timeout "$START_TIMEOUT" --pid "$(cat "$PIDFILE")"; then
        show_log_tail "$LOGFILE" 80
        stop_pidfile "$PIDFILE" 30 || true
        die "Presto did not become ready on 127.0.0.1:$PORT"
    fi
    log "ready on 127.0.0.1:$PORT after $(($(now_s) - t0))s"
    if [[ "${QUINTO_PRESTO_SMOKE:-1}" == 1 ]]; then
        do_smoke
    fi
}

do_smoke() {
    running || die "not running"
    "$VENV/bin/python" "$HERE/_probe.py" presto-smoke --port "$PORT" || {
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
        echo "presto: running, pid $(cat "$PIDFILE"), http://127.0.0.1:$PORT, log $LOGFILE"
        return 0
    fi
    echo "presto: stopped"
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
