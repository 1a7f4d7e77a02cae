#!/usr/bin/env bash
# Spark Thrift Server (HiveServer2 protocol) from the pyspark PyPI package.
#
#   scripts/engines/spark-thrift.sh start    # install (cached), start, wait for a real query
#   scripts/engines/spark-thrift.sh stop     # stop cleanly (TERM, then KILL after 60s)
#   scripts/engines/spark-thrift.sh status   # exit 0 if running, 3 if not
#   scripts/engines/spark-thrift.sh smoke    # partitioned-Parquet smoke test against a running server
#   scripts/engines/spark-thrift.sh install  # only create the cached venv
#   scripts/engines/spark-thrift.sh reset    # stop and delete all state (metastore, warehouse, logs)
#
# Env: QUINTO_HIVE_PORT (10000), QUINTO_CACHE (~/.cache/quinto), QUINTO_STATE
# (/tmp/quinto-engines), QUINTO_SPARK_DRIVER_MEMORY (2g), QUINTO_START_TIMEOUT (300),
# QUINTO_SPARK_JAVA_HOME (Java 17), QUINTO_SPARK_SMOKE (1 = run the smoke test after start; default 1),
# QUINTO_SPARK_EVENT_LOG (a folder: write Spark's event log there, one file per server run; default off).
set -euo pipefail

_ENGINE_NAME=spark-thrift
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_common.sh
. "$HERE/_common.sh"

PYSPARK_VERSION=4.0.1
PYHIVE_REQS=("pyhive==0.7.0" "thrift==0.22.0" "thrift_sasl==0.4.3" "pure-sasl==0.6.2")
PORT="${QUINTO_HIVE_PORT:-10000}"
DRIVER_MEMORY="${QUINTO_SPARK_DRIVER_MEMORY:-2g}"
START_TIMEOUT="${QUINTO_START_TIMEOUT:-300}"

CACHE_DIR="$QUINTO_CACHE/spark-$PYSPARK_VERSION"
VENV="$CACHE_DIR/venv"
STATE="$QUINTO_STATE/spark"
PIDFILE="$STATE/server.pid"
LOGFILE="$STATE/server.log"
LOCK="$QUINTO_STATE/.spark.lock"

java_home() {
    pick_java_home 17 "${QUINTO_SPARK_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 \
        "${JAVA_HOME:-}" /usr/lib/jvm/temurin-21-jdk-amd64 /usr/lib/jvm/java-21-openjdk-amd64 ||
        die "no Java >= 17 found (set QUINTO_SPARK_JAVA_HOME)"
}

do_install() {
    ensure_venv "$VENV" "pyspark==$PYSPARK_VERSION" "${PYHIVE_REQS[@]}"
    ls "$VENV"/lib/python3*/site-packages/pyspark/jars/spark-hive-thriftserver_*.jar >/dev/null 2>&1 ||
        die "pyspark $PYSPARK_VERSION in $VENV has no spark-hive-thriftserver jar"
}

running() { pid_alive "$PIDFILE"; }

do_start() {
    if running; then
        log "already running (pid $(cat "$PIDFILE"), port $PORT)"
        return 0
    fi
    rm -f "$PIDFILE"
    if port_open "$PORT"; then
        die "port 127.0.0.1:$PORT is already in use by another process (set QUINTO_HIVE_PORT)"
    fi
    local jh t0
    jh="$(java_home)" # before the download: without a suitable Java there is nothing to fetch
    do_install
    mkdir -p "$STATE"/{warehouse,derby,tmp,scratch,local-scratch,resources}
    # A Derby metastore admits one JVM at a time: it lives in $STATE and
    # belongs to this server only. Nothing else may open it while it runs.
    t0="$(now_s)"
    log "starting Spark Thrift Server $PYSPARK_VERSION on 127.0.0.1:$PORT (java: $jh, log: $LOGFILE)"
    : >"$LOGFILE"
    local spark_home event_log=()
    if [[ -n "${QUINTO_SPARK_EVENT_LOG:-}" ]]; then
        mkdir -p "$QUINTO_SPARK_EVENT_LOG"
        # plain JSON lines in one file, readable while the server writes it
        event_log=(--conf spark.eventLog.enabled=true --conf "spark.eventLog.dir=file://$QUINTO_SPARK_EVENT_LOG"
            --conf spark.eventLog.compress=false --conf spark.eventLog.rolling.enabled=false)
    fi
    spark_home="$(echo "$VENV"/lib/python3*/site-packages/pyspark)"
    mkdir -p "$STATE/conf"
    launch_bg "$LOGFILE" "$PIDFILE" "$STATE" \
        env -u SPARK_DIST_CLASSPATH -u HADOOP_CONF_DIR -u YARN_CONF_DIR -u HIVE_CONF_DIR -u PYSPARK_DRIVER_PYTHON \
        JAVA_HOME="$jh" SPARK_HOME="$spark_home" SPARK_LOCAL_IP=127.0.0.1 \
        SPARK_CONF_DIR="$STATE/conf" SPARK_LOG_DIR="$STATE" SPARK_PID_DIR="$STATE" \
        PYSPARK_PYTHON="$VENV/bin/python" HADOOP_USER_NAME="${HADOOP_USER_NAME:-quinto}" \
        "$VENV/bin/spark-submit" \
            --class org.apache.spark.sql.hive.thriftserver.HiveThriftServer2 \
            --name quinto-spark-thrift \
            --master 'local[2]' \
            --driver-memory "$DRIVER_MEMORY" \
            --conf spark.driver.host=127.0.0.1 \
            --conf spark.driver.bindAddress=127.0.0.1 \
            --conf spark.ui.enabled=false \
            --conf spark.sql.shuffle.partitions=4 \
            --conf spark.sql.warehouse.dir="file://$STATE/warehouse" \
            --conf spark.local.dir="$STATE/tmp" \
            --conf "spark.driver.extraJavaOptions=-Dderby.system.home=$STATE/derby -Djava.io.tmpdir=$STATE/tmp" \
            --conf spark.hadoop.javax.jdo.option.ConnectionURL="jdbc:derby:;databaseName=$STATE/metastore_db;create=true" \
            --conf spark.hadoop.hive.exec.dynamic.partition.mode=nonstrict \
            ${event_log[@]+"${event_log[@]}"} \
            --hiveconf hive.server2.thrift.bind.host=127.0.0.1 \
            --hiveconf hive.server2.thrift.port="$PORT" \
            --hiveconf hive.server2.transport.mode=binary \
            --hiveconf hive.server2.authentication=NONE \
            --hiveconf hive.exec.scratchdir="$STATE/scratch" \
            --hiveconf hive.exec.local.scratchdir="$STATE/local-scratch" \
            --hiveconf hive.downloaded.resources.dir="$STATE/resources" \
            --hiveconf hive.server2.logging.operation.enabled=false
    log "pid $(cat "$PIDFILE"); waiting up to ${START_TIMEOUT}s for 'SELECT 1'"
    if ! "$VENV/bin/python" "$HERE/_probe.py" hive-ready --port "$PORT" --timeout "$START_TIMEOUT" --pid "$(cat "$PIDFILE")"; then
        show_log_tail "$LOGFILE" 80
        stop_pidfile "$PIDFILE" 30 || true
        die "Spark Thrift Server did not become ready on 127.0.0.1:$PORT"
    fi
    log "ready on 127.0.0.1:$PORT after $(($(now_s) - t0))s"
    if [[ "${QUINTO_SPARK_SMOKE:-1}" == 1 ]]; then
        do_smoke
    fi
}

do_smoke() {
    running || die "not running"
    "$VENV/bin/python" "$HERE/_probe.py" hive-smoke --port "$PORT" || {
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
        echo "spark-thrift: running, pid $(cat "$PIDFILE"), 127.0.0.1:$PORT, log $LOGFILE"
        return 0
    fi
    echo "spark-thrift: stopped"
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
