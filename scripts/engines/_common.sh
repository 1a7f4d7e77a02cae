# shellcheck shell=bash
# Shared helpers for scripts/engines/*.sh. Sourced, never executed.
#
# Environment (all optional):
#   QUINTO_CACHE   downloads, unpacked servers, venvs   (default: $HOME/.cache/quinto)
#   QUINTO_STATE   pid files, logs, data, config          (default: /tmp/quinto-engines)
#   QUINTO_PYTHON  interpreter used to create venvs        (default: python3)
#   QUINTO_START_TIMEOUT  seconds to wait for readiness    (default: per engine)

QUINTO_CACHE="${QUINTO_CACHE:-${HOME:-/root}/.cache/quinto}"
QUINTO_STATE="${QUINTO_STATE:-/tmp/quinto-engines}"
QUINTO_PYTHON="${QUINTO_PYTHON:-python3}"
MAVEN_REPO="${QUINTO_MAVEN_REPO:-https://repo1.maven.org/maven2}"

_ENGINE_NAME="${_ENGINE_NAME:-engine}"

log() { printf '[%s %s] %s\n' "$_ENGINE_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_s: seconds since epoch (integer)
now_s() { date +%s; }

# pid_alive PIDFILE -> 0 if the pid in PIDFILE is a live process
pid_alive() {
    local f="$1" pid
    [[ -s "$f" ]] || return 1
    pid="$(cat "$f" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # a zombie counts as dead
    [[ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != "Z" ]]
}

# port_open PORT -> 0 if something listens on 127.0.0.1:PORT
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# show_log_tail FILE [N]
show_log_tail() {
    local f="$1" n="${2:-60}"
    if [[ -f "$f" ]]; then
        echo "----- last $n lines of $f -----" >&2
        tail -n "$n" "$f" >&2 || true
        echo "----- end of $f -----" >&2
    else
        echo "(no log file at $f)" >&2
    fi
}

# stop_pidfile PIDFILE [GRACE_SECONDS]
# Sends TERM to the process group led by the pid (started with setsid), waits,
# then KILLs. Removes the pid file. Safe when nothing runs.
stop_pidfile() {
    local f="$1" grace="${2:-30}" pid i
    if ! pid_alive "$f"; then
        rm -f "$f"
        return 0
    fi
    pid="$(cat "$f")"
    log "stopping pid $pid"
    # negative pid = the whole process group (we start servers with setsid)
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 2; i++)); do
        pid_alive "$f" || break
        sleep 0.5
    done
    if pid_alive "$f"; then
        log "pid $pid still alive after ${grace}s, sending KILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            pid_alive "$f" || break
            sleep 0.5
        done
    fi
    pid_alive "$f" && die "could not stop pid $pid"
    rm -f "$f"
    log "stopped"
}

# with_lock LOCKFILE CMD... : run CMD under an exclusive flock (serialises
# concurrent start/stop/download of the same engine).
with_lock() {
    local lockfile="$1"
    shift
    mkdir -p "$(dirname "$lockfile")"
    (
        flock -w 1800 9 || die "timed out waiting for lock $lockfile"
        "$@"
    ) 9>"$lockfile"
}

# ensure_venv DIR PIP_ARGS...
# Creates a venv at DIR and installs PIP_ARGS. A marker file records the exact
# requirement list; a venv without a matching marker (interrupted install,
# changed pins) is rebuilt from scratch.
ensure_venv() {
    local dir="$1"
    shift
    local want="$*"
    if [[ -x "$dir/bin/python" && -f "$dir/.quinto-ok" && "$(cat "$dir/.quinto-ok")" == "$want" ]]; then
        return 0
    fi
    command -v "$QUINTO_PYTHON" >/dev/null || die "python interpreter '$QUINTO_PYTHON' not found"
    log "creating venv $dir ($want)"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    "$QUINTO_PYTHON" -m venv "$dir" || die "python -m venv failed (on Debian: apt-get install python3-venv)"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" ||
        die "pip install $want into $dir failed"
    printf '%s' "$want" >"$dir/.quinto-ok"
}

# fetch_verified URL DEST : download URL to DEST unless DEST already exists with
# a matching sha1; verifies against URL.sha1 (as Maven Central publishes it).
fetch_verified() {
    local url="$1" dest="$2" want got tmp
    mkdir -p "$(dirname "$dest")"
    if [[ -f "$dest" && -f "$dest.sha1" ]]; then
        want="$(cut -c1-40 <"$dest.sha1")"
        got="$(sha1sum "$dest" | cut -c1-40)"
        if [[ "$want" == "$got" ]]; then
            log "cached: $dest"
            return 0
        fi
        log "cached file $dest has a wrong sha1, downloading again"
    fi
    want="$(curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 30 "$url.sha1" | tr -d '[:space:]' | cut -c1-40)" ||
        die "cannot fetch $url.sha1"
    [[ "$want" =~ ^[0-9a-f]{40}$ ]] || die "bad sha1 '$want' from $url.sha1"
    tmp="$dest.part"
    log "downloading $url"
    curl -fSL --retry 3 --retry-delay 2 --connect-timeout 30 -C - -o "$tmp" "$url" 2>/dev/null ||
        curl -fSL --retry 3 --retry-delay 2 --connect-timeout 30 -o "$tmp" "$url" ||
        die "download failed: $url"
    got="$(sha1sum "$tmp" | cut -c1-40)"
    if [[ "$want" != "$got" ]]; then
        rm -f "$tmp"
        die "sha1 mismatch for $url: expected $want, got $got"
    fi
    mv -f "$tmp" "$dest"
    printf '%s\n' "$want" >"$dest.sha1"
    log "verified sha1 $want"
}

# pick_java_home MIN_MAJOR CANDIDATE... : first JDK whose major version >= MIN
pick_java_home() {
    local min="$1" c v
    shift
    for c in "$@"; do
        [[ -n "$c" && -x "$c/bin/java" ]] || continue
        v="$("$c/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | tr -d '[:space:]')"
        v="${v#1.}"
        if [[ "$v" =~ ^[0-9]+$ ]] && ((v >= min)); then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}
