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
# shellcheck disable=SC2034 # used by the engine scripts
MAVEN_REPO="${QUINTO_MAVEN_REPO:-https://repo1.maven.org/maven2}"

_ENGINE_NAME="${_ENGINE_NAME:-engine}"

log() { printf '[%s %s] %s\n' "$_ENGINE_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_s: seconds since epoch (integer)
now_s() { date +%s; }

# _proc_stat_field PID N -> field N (>= 3) of /proc/PID/stat
_proc_stat_field() {
    local stat n=$(($2 - 2))
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }" # drop "pid (comm) ", comm may contain spaces
    # shellcheck disable=SC2086
    set -- $stat
    printf '%s\n' "${!n}"
}

# proc_start_time PID -> the kernel's start time of PID (field 22 of /proc/PID/stat)
proc_start_time() { _proc_stat_field "$1" 22; }

# pid_alive PIDFILE -> 0 if the pid in PIDFILE is a live process, and the same
# process that we started (PIDFILE.start holds its start time, so a pid reused
# after a reboot is not mistaken for our server).
pid_alive() {
    local f="$1" pid want got
    [[ -s "$f" ]] || return 1
    pid="$(cat "$f" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # a zombie counts as dead
    [[ "$(_proc_stat_field "$pid" 3 || true)" != "Z" ]] || return 1
    if [[ -s "$f.start" ]]; then
        want="$(cat "$f.start")"
        got="$(proc_start_time "$pid" || true)"
        [[ "$want" == "$got" ]] || return 1
    fi
    return 0
}

# launch_bg LOGFILE PIDFILE WORKDIR CMD... : start CMD detached (own session and
# process group, stdin from /dev/null, stdout+stderr appended to LOGFILE),
# record its pid and start time. The pid stays the server's pid as long as the
# command chain uses exec (spark-submit, Trino's launcher and java do).
launch_bg() {
    local logfile="$1" pidfile="$2" workdir="$3" pid
    shift 3
    (
        exec 9>&- # do not hand the flock (see with_lock) to the server
        cd "$workdir" || exit 1
        exec setsid nohup "$@" >>"$logfile" 2>&1 </dev/null
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
    proc_start_time "$pid" >"$pidfile.start" 2>/dev/null || rm -f "$pidfile.start"
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
        rm -f "$f" "$f.start"
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
    rm -f "$f" "$f.start"
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
    local attempt
    for attempt in 1 2; do
        log "downloading $url"
        # attempt 1 resumes an interrupted download (.part), attempt 2 starts over
        if [[ "$attempt" == 2 ]]; then rm -f "$tmp"; fi
        curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 30 -C - -o "$tmp" "$url" ||
            { rm -f "$tmp" && curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 30 -o "$tmp" "$url"; } ||
            die "download failed: $url"
        got="$(sha1sum "$tmp" | cut -c1-40)"
        [[ "$want" == "$got" ]] && break
        log "sha1 mismatch for $url: expected $want, got $got"
        rm -f "$tmp"
        [[ "$attempt" == 2 ]] && die "sha1 mismatch for $url after a fresh download"
    done
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
