# SPDX-License-Identifier: MIT
# lib.sh - shared parts of the benchmarks: build, start convertd, the baseline server.
# Benchmarks print ratios against a baseline measured in the same run; they never fail on
# a number.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CONVERTD_BIN:-$ROOT/build/server/convertd}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/convertd-bench.XXXXXX")
# A server started as root runs its workers as nobody: they must pass through to the job
# folders under $WORK (mktemp made it 0700).
chmod 711 "$WORK"
INPUTS=${BENCH_INPUTS:-/tmp/bench-inputs}
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: installing $2" >&2; apt-get install -y -qq "$2" >/dev/null; }; }

build_baseline() {
    cc -O2 -o "$WORK/baseline_mhd" "$ROOT/bench/baseline_mhd.c" \
        $(pkg-config --cflags --libs libmicrohttpd sqlite3)
}

# start_convertd [extra flags...] → sets PORT, KEY, BASE, SERVER_PID
start_convertd() {
    mkdir -p "$WORK/data"
    KEY=bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    "$BIN" keys add --key "$KEY" --data-dir "$WORK/data" >/dev/null
    rm -f "$WORK/port"
    "$BIN" serve --listen 127.0.0.1:0 --port-file "$WORK/port" --data-dir "$WORK/data" "$@" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    PORT=$(cat "$WORK/port")
    BASE="http://127.0.0.1:$PORT"
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

json_field() { python3 -c 'import json,sys;d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }

ratio() { python3 -c "import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# GNU time (not the shell keyword), for a program's max RSS and CPU seconds
need_gnu_time() {
    [ -x /usr/bin/time ] || need /usr/bin/time time
}

now_ms() { date +%s%3N; }

# median of the arguments
median() {
    printf '%s\n' "$@" | sort -n |
        awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# CPU time (clock ticks) used so far by the server and its workers, including the programs
# (gs) the workers ran and waited for: the API side's cost, which a busy machine does not
# inflate the way it does wall time
api_ticks() {
    local p sum
    sum=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0)
    for p in $(pgrep -P "$SERVER_PID" || true); do
        sum=$((sum + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null ||
            echo 0)))
    done
    echo "$sum"
}

stop_convertd() {
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$SERVER_PID" ] || keep+=("$p"); done
    PIDS=("${keep[@]}") # the exit trap must not kill a recycled pid
}

# one API run through the client (on two FIFOs): its time in ms appended to a[]
api_once() {
    local t
    echo >&"$API_IN" 2>/dev/null && read -r -u "$API_OUT" t && a+=("$t")
}
