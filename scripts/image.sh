#!/usr/bin/env bash
# Builds the Quinto container image with buildah and smoke-tests it, without any registry:
#   1. base: a Debian bookworm root file system (python3 3.11, python3-venv, ca-certificates, tini) made
#      by mmdebstrap from deb.debian.org, cached as a tarball in ~/.cache/quinto (rebuilt when older than
#      QUINTO_BASE_MAX_AGE_DAYS, default 7, for security updates) and imported as localhost/quinto-base;
#   2. image: deploy/Containerfile built on that base with `buildah bud --isolation chroot`;
#   3. smoke: inside the image (`buildah run --isolation chroot`), as its non-root user: no compiler,
#      every engine client imports, `quinto demo --no-serve`, `quinto validate`, `quinto scheduler --once`,
#      and `quinto serve` answering pages and the API over 127.0.0.1; then the deployment of
#      deploy/compose.yaml and deploy/k8s (PostgreSQL store, two schedulers, the web app, an audit
#      asked for over HTTP, alert delivery, SIGTERM) in one container.
# Usage: scripts/image.sh [all|base|build|smoke]   (default all). Exit status non-zero when any step fails.
# Environment: QUINTO_IMAGE (default localhost/quinto:latest), QUINTO_CACHE (default ~/.cache/quinto).
# Needs root (or a configured rootless buildah), mmdebstrap and buildah: apt-get install mmdebstrap buildah.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${QUINTO_IMAGE:-localhost/quinto:latest}
CACHE=${QUINTO_CACHE:-$HOME/.cache/quinto}
MAX_AGE_DAYS=${QUINTO_BASE_MAX_AGE_DAYS:-7}
SUITE=bookworm
MIRROR=${QUINTO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${QUINTO_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
PACKAGES=python3,python3-venv,ca-certificates,tini
# documentation, manual pages and translations are left out of the base (copyright files stay)
DPKG_OPTS=(
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
)
# the tarball's name changes with what goes into it, so a change of packages rebuilds it
KEY=$(printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY" "$PACKAGES" "${DPKG_OPTS[*]}" | sha256sum | cut -c1-12)
TARBALL=$CACHE/debian-$SUITE-$KEY.tar

log() { printf '[image] %s\n' "$*" >&2; }
# working containers of the smoke tests, removed however the script ends
CONTAINERS=()
cleanup() { [ ${#CONTAINERS[@]} -eq 0 ] || buildah rm "${CONTAINERS[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT
container() { buildah from --quiet "$IMAGE"; }
die() { log "FAILED: $*"; exit 1; }

need_tools() {
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: apt-get install -y ${missing[*]}"
}

base_tag() { echo "localhost/quinto-base:$SUITE-$(sha256sum "$TARBALL" | cut -c1-12)"; }

base() {
  mkdir -p "$CACHE"
  # one builder at a time per machine: a second waits, then finds the fresh tarball
  exec 9>"$CACHE/debian-$SUITE.lock"
  flock 9
  if [ -s "$TARBALL" ] && [ -z "$(find "$TARBALL" -mtime +"$MAX_AGE_DAYS")" ]; then
    log "base: cached $TARBALL"
  else
    log "base: mmdebstrap $SUITE ($PACKAGES) into $TARBALL"
    local t0=$SECONDS
    mmdebstrap --quiet --format=tar --variant=minbase --include="$PACKAGES" "${DPKG_OPTS[@]}" \
      --aptopt='Acquire::Retries "3"' \
      "$SUITE" "$TARBALL.part" \
      "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main"
    mv "$TARBALL.part" "$TARBALL"
    log "base: built in $((SECONDS - t0)) s"
  fi
  local tag
  tag=$(base_tag)
  if buildah inspect --type image "$tag" >/dev/null 2>&1; then
    log "base: image $tag present"
  else
    log "base: importing as $tag"
    local ctx
    ctx=$(mktemp -d)
    ln "$TARBALL" "$ctx/rootfs.tar" 2>/dev/null || cp "$TARBALL" "$ctx/rootfs.tar"
    printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/bash"]\n' >"$ctx/Containerfile"
    buildah bud --quiet --isolation chroot -t "$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  buildah tag "$tag" "localhost/quinto-base:$SUITE"
  flock -u 9
}

build() {
  [ -s "$TARBALL" ] || die "no base: run scripts/image.sh base first"
  local args=(--isolation chroot --layers --force-rm -f deploy/Containerfile -t "$IMAGE" --build-arg "BASE=$(base_tag)")
  # the build reaches the package index as this machine does: its mirror and the CA bundle it trusts
  for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
    [ -z "${!v:-}" ] || args+=(--build-arg "$v=${!v}")
  done
  local ca=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-}}
  if [ -n "$ca" ] && [ -f "$ca" ]; then
    args+=(--volume "$(readlink -f "$ca"):/run/quinto-build-ca.crt:ro" --build-arg PIP_CERT=/run/quinto-build-ca.crt)
  fi
  local old
  old=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE" 2>/dev/null || true)
  log "build: $IMAGE from deploy/Containerfile"
  local t0=$SECONDS
  buildah bud "${args[@]}" . >&2
  log "build: done in $((SECONDS - t0)) s"
  local new
  new=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    # the previous build of this tag, now untagged: removed so repeated builds do not fill the disk
    buildah rmi "$old" >/dev/null 2>&1 || true
  fi
  prune_build_stages
  log "build: size $(buildah images --format '{{.Size}}' "$IMAGE" | head -1)"
}

# --layers leaves the last image of each build's first stage (untagged, no children); the newest is
# kept, for its layers are the cache of the next build, and the earlier ones go so that builds on the
# same machine do not fill its disk. Their parents shared with the newest stay (they have children).
prune_build_stages() {
  local newest="" pass ids
  for pass in 1 2 3 4 5 6 7 8 9 10; do
    ids=$(buildah images --noheading --filter dangling=true --filter label=org.quinto.stage=build \
      --format '{{.CreatedAtRaw}} {{.ID}}' | sort -r | awk '{print $NF}')
    [ -n "$newest" ] || newest=$(head -1 <<<"$ids")
    ids=$(grep -vx "${newest:-none}" <<<"$ids" || true)
    [ -n "$ids" ] || break
    # shellcheck disable=SC2086
    buildah rmi $ids >/dev/null 2>&1 || true
  done
  [ "$pass" -lt 10 ] || log "build: some earlier build stages could not be removed"
}

# Each check runs in the image as its user; the smoke stops at the first failure.
smoke() {
  local c
  c=$(container)
  CONTAINERS+=("$c")
  run() { buildah run --isolation chroot "$c" -- "$@"; }
  local uid
  uid=$(run id -u)
  [ "$uid" != 0 ] || die "smoke: the image runs as root"
  log "smoke: runs as uid $uid"
  run sh -c 'for cc in gcc cc c++ g++ clang make; do if command -v $cc; then exit 1; fi; done' >/dev/null \
    || die "smoke: a compiler is left in the image"
  run quinto --version
  run python -c 'import psycopg, pymysql, pyhive.hive, trino.sqlalchemy, prestodb, duckdb, waitress; print("engine clients import")' \
    || die "smoke: an engine client does not import"
  log "smoke: quinto demo --no-serve"
  run quinto demo --no-serve --dir /tmp/demo --checks /opt/quinto/checks || die "smoke: quinto demo"
  run quinto validate -c /tmp/demo/quinto.yaml || die "smoke: quinto validate"
  run quinto runs -c /tmp/demo/quinto.yaml >/dev/null || die "smoke: quinto runs"
  log "smoke: quinto scheduler --once"
  run quinto scheduler --once -c /tmp/demo/quinto.yaml >/dev/null || die "smoke: quinto scheduler --once"
  log "smoke: quinto serve, pages and API over 127.0.0.1"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # chroot isolation shares this machine's network: the server listens on its 127.0.0.1
  run sh -c "quinto serve -c /tmp/demo/quinto.yaml --host 127.0.0.1 --port $port & pid=\$!
    python - $port <<'EOF'
import json, sys, time, urllib.request
base = f'http://127.0.0.1:{sys.argv[1]}'
for _ in range(300):
    try:
        urllib.request.urlopen(base + '/readyz', timeout=5)  # the readiness probe: store reachable
        break
    except OSError:
        time.sleep(0.1)
tables = json.load(urllib.request.urlopen(base + '/api/tables', timeout=10))
names = [t['table'] for t in tables['tables']]  # the API's name for it
assert names, tables
page = urllib.request.urlopen(base + '/', timeout=10).read().decode()
assert all(n in page for n in names), 'the table list page does not name every table'
print(f'served / and /api/tables ({len(names)} tables)')
EOF
    rc=\$?; kill \$pid; wait \$pid 2>/dev/null; exit \$rc" || die "smoke: quinto serve"
  log "smoke: passed"
}

# The deployment of deploy/compose.yaml and deploy/k8s, in one container (scripts/image-deploy-smoke.sh):
# deploy/k8s/project.yaml's quinto.yaml, a PostgreSQL store (a fresh database on QUINTO_TEST_PG_URL's
# server, else on scripts/pg.sh's), two schedulers, the web app, an audit asked for over HTTP.
smoke_deploy() {
  local admin=${QUINTO_TEST_PG_URL:-}
  [ -n "$admin" ] || admin=$(scripts/pg.sh start 2>/dev/null) || admin=""
  if [ -z "$admin" ]; then
    [ "${CI:-}" != true ] || die "deploy smoke: no PostgreSQL (QUINTO_TEST_PG_URL or scripts/pg.sh)"
    log "deploy smoke: skipped, no PostgreSQL server"
    return 0
  fi
  local c port project
  c=$(container)
  CONTAINERS+=("$c")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  project=$(mktemp -d)
  cp deploy/k8s/project.yaml scripts/image-deploy-smoke.sh "$project/"
  buildah copy --quiet --chown 10001:10001 "$c" "$project" /tmp/project >/dev/null
  rm -rf "$project"
  log "deploy smoke: PostgreSQL store, 2 schedulers, web on 127.0.0.1:$port, an audit over HTTP"
  buildah run --isolation chroot --env "ADMIN_URL=$admin" --env "DB=quinto_image_smoke_$$" --env "PORT=$port" \
    "$c" -- sh /tmp/project/image-deploy-smoke.sh || die "deploy smoke"
  log "deploy smoke: passed"
}

need_tools
case "${1:-all}" in
  base) base ;;
  build) build ;;
  smoke) smoke; smoke_deploy ;;
  all)
    t0=$SECONDS
    base
    build
    smoke
    smoke_deploy
    log "all: $((SECONDS - t0)) s"
    ;;
  *) die "usage: scripts/image.sh [all|base|build|smoke]" ;;
esac
