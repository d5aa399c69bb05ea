#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# video.sh - end-to-end video/audio conversions through the API (create, start with the
# upload, wait, download) against the ffmpeg command line with the same settings, same run,
# with the peak memory and CPU time of both sides.
#   bench/video.sh          (RUNS=3: median of 3 after one warm-up, per side and case)
#   CASES="mp4 mp3" bench/video.sh     only some cases (mp4 webm mp3 thumb)
# Target (issue): every case within 1.05x of the CLI.
# The API and CLI runs alternate (bench/image_client.py with RUNS=0), so that other work on a
# shared machine slows both sides alike; CPU seconds per run (server + workers against the
# ffmpeg process) show the cost without that noise.
# Peak memory: the CLI's max RSS from /usr/bin/time; the largest VmHWM of the server's
# `convertd worker` children. Workers are long-lived, so the server is restarted for each
# case and its figure covers that case only (warm-up included, as on the CLI side).
# A case whose API side fails prints why and the run goes on (the client gives up after
# BENCH_TIMEOUT s, default 300, without a reply); the exit status is then 1.
source "$(dirname "$0")/lib.sh"
# A client that died must make a write to its FIFO fail, not kill this script.
trap '' PIPE
RUNS=${RUNS:-3}
CASES=${CASES:-mp4 webm mp3 thumb}
export BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
IN="$INPUTS/video-720p-10s.mp4"
if [ ! -s "$IN" ]; then
    need ffmpeg ffmpeg; need gs ghostscript; need vips libvips-tools
    SKIP_BIG=1 "$ROOT/../shared/bench/make_inputs.sh" "$INPUTS"
fi
need ffmpeg ffmpeg
need ffprobe ffmpeg
need_gnu_time

mib() { awk -v k="$1" 'BEGIN {if (k > 0) printf "%.0f", k / 1024; else printf "?"}'; }

# what a file holds: "h264 854x480, aac 2ch, 1.1 MB" (to see both sides did the same work)
describe() {
    ffprobe -v error -show_entries stream=codec_type,codec_name,width,height,channels \
        -show_entries format=size -of json "$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
parts = []
for s in d.get("streams", []):
    if s.get("codec_type") == "video":
        parts.append("%s %sx%s" % (s["codec_name"], s.get("width"), s.get("height")))
    elif s.get("codec_type") == "audio":
        parts.append("%s %sch" % (s["codec_name"], s.get("channels")))
size = int(d.get("format", {}).get("size", 0))
print(", ".join(parts + ["%.2f MB" % (size / 1e6)]))' || echo "unreadable"
}

# largest VmHWM (KiB) of the server's `convertd worker` children, 0 when none is found
worker_hwm() {
    local max=0 p v
    for p in $(pgrep -P "$SERVER_PID" || true); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q ' worker ' || continue
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
    done
    echo "$max"
}

# one CLI run: time in ms on stdout; "max-RSS-KiB user-s sys-s" appended to $WORK/cli.res
cli_once() { # ext ffmpeg-args...
    local ext=$1 t
    shift
    t=$(now_ms)
    /usr/bin/time -f '%M %U %S' -a -o "$WORK/cli.res" \
        ffmpeg -hide_banner -loglevel error -nostdin -y "$@" "$WORK/cli.$ext" </dev/null
    echo $(( $(now_ms) - t ))
}

FAILED=0
bench_case() { # label outformat options-json ffmpeg-args...
    local label=$1 ext=$2 opts=$3 c=() a=() mc ma crss whwm line i client_pid rc=0 t0 t1
    shift 3
    : >"$WORK/cli.res"
    if ! cli_once "$ext" "$@" >/dev/null; then # warm caches
        printf '%-22s CLI FAILED (ffmpeg %s)\n' "$label" "$*"
        FAILED=1
        return
    fi
    start_convertd --workers 2 || true
    if [ -z "${PORT:-}" ]; then
        printf '%-22s API FAILED: the server did not start:\n' "$label"
        sed 's/^/    /' "$WORK/server.log" | tail -5
        FAILED=1
        return
    fi
    rm -f "$WORK/api.$ext"
    # The two sides take turns, one run each (which goes first alternates): a load that
    # changes during the run (other work on a shared machine) then weighs on both alike.
    rm -f "$WORK/to-client" "$WORK/from-client"
    mkfifo "$WORK/to-client" "$WORK/from-client"
    python3 "$ROOT/bench/image_client.py" "$PORT" "$KEY" "$IN" mp4 "$ext" 0 "$opts" \
        "$WORK/api.$ext" <"$WORK/to-client" >"$WORK/from-client" 2>"$WORK/client.err" &
    client_pid=$!
    exec {API_IN}>"$WORK/to-client" {API_OUT}<"$WORK/from-client"
    if read -r -u "$API_OUT" line && [ "$line" = ready ]; then # after the API warm-up
        t0=$(api_ticks)
        for i in $(seq "$RUNS"); do
            if [ $((i % 2)) = 1 ]; then
                c+=("$(cli_once "$ext" "$@")")
                api_once || break
            else
                api_once || break
                c+=("$(cli_once "$ext" "$@")")
            fi
        done
    fi
    exec {API_IN}>&- {API_OUT}<&-
    wait "$client_pid" || rc=$?
    t1=$(api_ticks)
    whwm=$(worker_hwm)
    stop_convertd # also ends a conversion the client gave up on, before more CLI runs
    PORT=
    while [ "${#c[@]}" -lt "$RUNS" ]; do c+=("$(cli_once "$ext" "$@")"); done
    mc=$(median "${c[@]}")
    crss=$(sort -n "$WORK/cli.res" | tail -1 | cut -d' ' -f1)
    if [ "$rc" = 0 ] && [ "${#a[@]}" = "$RUNS" ]; then
        ma=$(median "${a[@]}")
        printf '%-22s API %6s ms   ffmpeg CLI %6s ms   ratio %s   ' \
            "$label" "$ma" "$mc" "$(ratio "$ma" "$mc")"
        printf 'peak RSS: workers %s MiB, CLI %s MiB\n' "$(mib "$whwm")" "$(mib "$crss")"
        # mean CPU seconds per run; the CLI's warm-up (line 1) left out
        printf '%-22s   CPU per run: API %s s, CLI %s s\n' "" \
            "$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$RUNS" \
                'BEGIN {printf "%.2f", d / hz / n}')" \
            "$(awk 'NR > 1 {s += $2 + $3; n++} END {printf "%.2f", n ? s / n : 0}' \
                "$WORK/cli.res")"
        printf '%-22s   API: %s | CLI: %s\n' "" "$(describe "$WORK/api.$ext")" \
            "$(describe "$WORK/cli.$ext")"
    else
        printf '%-22s API FAILED: %s   (ffmpeg CLI %s ms, peak RSS %s MiB)\n' "$label" \
            "$(tail -1 "$WORK/client.err")" "${mc:-?}" "$(mib "$crss")"
        FAILED=1
    fi
}

echo "video benchmark: $(basename "$IN"), median of $RUNS after a warm-up, API end to end" \
    "(create, upload+wait, download; server --workers 2) vs the ffmpeg CLI (default threads)"
for c in $CASES; do
    case $c in
    mp4)
        bench_case "mp4 → mp4 480p x264" mp4 \
            '{"video_resolution":"x480","video_preset":"veryfast"}' \
            -i "$IN" -vf scale=-2:480 -c:v libx264 -preset veryfast -crf 23 -c:a aac -b:a 128k ;;
    webm)
        bench_case "mp4 → webm vp9+opus" webm '' \
            -i "$IN" -c:v libvpx-vp9 -deadline realtime -cpu-used -8 -row-mt 1 -crf 32 -b:v 0 \
            -c:a libopus -b:a 128k ;;
    mp3)
        bench_case "mp4 → mp3 192k" mp3 '' -i "$IN" -vn -c:a libmp3lame -b:a 192k ;;
    thumb)
        bench_case "mp4 → jpg thumbnail 1s" jpg '{"thumbnail_time":1}' \
            -ss 1 -i "$IN" -frames:v 1 -q:v 2 ;;
    *) echo "unknown case $c (mp4 webm mp3 thumb)" >&2; FAILED=1 ;;
    esac
done
echo "(target: ratio ≤ 1.05)"
[ "$FAILED" = 0 ] || { echo "some cases failed (see above)"; exit 1; }
