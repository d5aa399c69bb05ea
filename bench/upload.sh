#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# upload.sh - a 1 GiB PUT upload into convertd against a bare libmicrohttpd server streaming
# to a file (same run), with convertd's memory growth during the upload.
# Target (issue): ≥ 0.9× the baseline's throughput, RSS growth < 16 MiB.
source "$(dirname "$0")/lib.sh"
SIZE_MB=${SIZE_MB:-1024}
BLOB="$WORK/blob.bin"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$BLOB"
build_baseline

put_mbps() { # url → MiB/s
    curl -sf -T "$BLOB" -o /dev/null -w '%{speed_upload}' "$1" |
        awk '{printf "%.0f", $1 / 1048576}'
}

BPORT=$(free_port)
mkdir -p "$WORK/up"
"$WORK/baseline_mhd" upload "$BPORT" "$WORK/up" &
PIDS+=($!)
sleep 0.3
base=$(put_mbps "http://127.0.0.1:$BPORT/x")

start_convertd --workers 1 --max-upload-bytes $((4 * 1024 * 1024 * 1024))
URL=$(curl -sf -X POST "$BASE/process" -H "Authorization: Bearer $KEY" \
    -d inputformat=png -d outputformat=jpg | json_field url)
UP=$(curl -sf -X POST "http:$URL" -d input=upload | json_field upload.url)
rss0=$(rss_kib "$SERVER_PID")
peak=$rss0
( while kill -0 "$SERVER_PID" 2>/dev/null; do r=$(rss_kib "$SERVER_PID"); echo "$r"; sleep 0.1; done ) >"$WORK/rss" &
sampler=$!
ours=$(put_mbps "http:$UP/blob.png")
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$WORK/rss" | tail -1)
echo "upload benchmark: ${SIZE_MB} MiB PUT"
printf '%-26s %6s MiB/s\n' "baseline (bare MHD)" "$base"
printf '%-26s %6s MiB/s  ratio %s (target >= 0.90)  RSS growth %s KiB (target < 16384)\n' \
    "convertd upload" "$ours" "$(ratio "$ours" "$base")" "$((peak - rss0))"
