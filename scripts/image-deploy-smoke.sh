#!/bin/sh
# Runs inside the Quinto image (scripts/image.sh copies it in): the deployment of deploy/compose.yaml and
# deploy/k8s in one container. /tmp/project/quinto.yaml is the one of deploy/k8s/project.yaml (copied
# next to this script); the store is a fresh
# PostgreSQL database DB on the server of ADMIN_URL; the web app listens on 127.0.0.1:PORT.
# Two schedulers and the web app run as the manifests run them; an audit is asked for over HTTP
# (`quinto audit --via`), alerts are delivered once, /healthz, /readyz and /metrics answer on the web
# app and on each scheduler's --metrics-port (PORT+1, PORT+2), and SIGTERM must stop each scheduler
# with exit 0.
set -eu
: "${ADMIN_URL:?}" "${DB:?}" "${PORT:?}"

sql() {
  python - "$1" <<'EOF'
import os, sys
import psycopg
with psycopg.connect(os.environ["ADMIN_URL"].replace("+psycopg", ""), autocommit=True) as conn:
    conn.execute(sys.argv[1])
EOF
}

cd /tmp/project
python -c 'import yaml; print(yaml.safe_load(open("project.yaml"))["data"]["quinto.yaml"], end="")' >quinto.yaml

sql "CREATE DATABASE $DB"
trap 'sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true' EXIT

export QUINTO_STORE="${ADMIN_URL%/*}/$DB"
export WAREHOUSE_URL=duckdb:////tmp/demo/demo.duckdb
export QUINTO_API_TOKEN=smoke-token
export QUINTO_SECRET_KEY=smoke-secret
quinto demo --no-serve --dir /tmp/demo --checks /opt/quinto/checks >/dev/null
cp -r /opt/quinto/checks /tmp/project/checks
quinto validate

M1=$((PORT + 1))
M2=$((PORT + 2))
quinto scheduler --metrics-port "$M1" >/tmp/scheduler-1.log 2>&1 &
s1=$!
quinto scheduler --metrics-port "$M2" >/tmp/scheduler-2.log 2>&1 &
s2=$!
quinto serve -c /tmp/project/quinto.yaml --host 127.0.0.1 --port "$PORT" >/tmp/web.log 2>&1 &
web=$!
show_logs() {
  for f in /tmp/scheduler-1.log /tmp/scheduler-2.log /tmp/web.log; do echo "== $f"; tail -20 "$f"; done
}

# the probes of deploy/k8s: ready once /readyz answers 200 (the store reachable, at the newest migration)
PORT=$PORT M1=$M1 M2=$M2 python - <<'EOF'
import os, time, urllib.request
for port in (os.environ["PORT"], os.environ["M1"], os.environ["M2"]):
    for _ in range(300):
        try:
            urllib.request.urlopen("http://127.0.0.1:%s/readyz" % port, timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("127.0.0.1:%s/readyz never answered 200" % port)
    urllib.request.urlopen("http://127.0.0.1:%s/healthz" % port, timeout=5)
EOF

day=$(python -c 'import datetime; print(datetime.date.today() - datetime.timedelta(days=2))')
rc=0
quinto audit dw.fact_signup -p "ds=$day" --via "http://127.0.0.1:$PORT" || rc=$?
if [ "$rc" -gt 1 ]; then
  echo "the audit asked for over HTTP exited $rc"
  show_logs
  exit 1
fi
quinto runs | head -4
rc=0
quinto alerts send || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { echo "quinto alerts send exited $rc"; exit 1; }

# the metrics Prometheus would scrape: the store gauges on the web app, the audit on a scheduler
PORT=$PORT M1=$M1 M2=$M2 python - <<'EOF' || { show_logs; exit 1; }
import os, urllib.request
from prometheus_client.parser import text_string_to_metric_families
def names(port):
    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10).read().decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}
web = names(os.environ["PORT"])
assert {"quinto_partitions", "quinto_queue_depth", "quinto_store_up"} <= web, sorted(web)
schedulers = names(os.environ["M1"]) | names(os.environ["M2"])
assert "quinto_audits_total" in schedulers and "quinto_audit_duration_seconds_count" in schedulers, sorted(schedulers)
print("metrics: %d web sample names, %d scheduler sample names" % (len(web), len(schedulers)))
EOF

kill -TERM "$s1" "$s2" "$web"
for pid in "$s1" "$s2"; do
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "a scheduler exited $rc after SIGTERM"
    show_logs
    exit 1
  fi
done
wait "$web" || true
grep -h '"audit_done"' /tmp/scheduler-1.log /tmp/scheduler-2.log | head -1 | grep . \
  || { echo "no scheduler logged audit_done"; show_logs; exit 1; }
echo "deployment smoke passed"
