#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# api.sh - requests per second and p99 latency of status GET and create, against a bare
# libmicrohttpd server answering a ~500-byte JSON read from SQLite (same run, same machine).
#   bench/api.sh            (DURATION=10 CONNS=64 by default)
# Target (issue): status GET ≥ 0.7× the baseline, p99 < 10 ms at 64 connections.
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
need wrk wrk
build_baseline

run_wrk() { # url [script] → prints "RPS P99_MS"
    local out
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency ${2:+-s "$2"} "$1")
    local rps p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
    echo "$rps $p99"
}

BPORT=$(free_port)
"$WORK/baseline_mhd" json "$BPORT" "$WORK/baseline.db" &
PIDS+=($!)
sleep 0.3
read -r base_rps base_p99 < <(run_wrk "http://127.0.0.1:$BPORT/x")

start_convertd --workers 2
# A finished process gives a realistic status document (~600 bytes).
vips black "$WORK/in.png" 96 60 --bands 3
URL=$(curl -sf -X POST "$BASE/convert?inputformat=png&outputformat=jpg&wait=true" \
    -H "Authorization: Bearer $KEY" -F "file=@$WORK/in.png" | json_field url)
bytes=$(curl -sf "http:$URL" | wc -c)
read -r st_rps st_p99 < <(run_wrk "http:$URL")

cat >"$WORK/create.lua" <<LUA
wrk.method = "POST"
wrk.body = "inputformat=png&outputformat=jpg"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
read -r cr_rps cr_p99 < <(run_wrk "$BASE/process" "$WORK/create.lua")

echo "api benchmark: wrk -t2 -c$CONNS -d${DURATION}s, status document $bytes bytes"
printf '%-28s %10s req/s  p99 %7s ms\n' "baseline (MHD+SQLite read)" "$base_rps" "$base_p99"
printf '%-28s %10s req/s  p99 %7s ms  ratio %s (target >= 0.70)\n' "convertd GET /process/ID" \
    "$st_rps" "$st_p99" "$(ratio "$st_rps" "$base_rps")"
printf '%-28s %10s req/s  p99 %7s ms  ratio %s\n' "convertd POST /process" "$cr_rps" "$cr_p99" \
    "$(ratio "$cr_rps" "$base_rps")"
