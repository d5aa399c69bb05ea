#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# image.sh - end-to-end image conversions through the API (create, start with the upload,
# wait, download) against the vips command line on the same files, same run.
#   bench/image.sh          (RUNS=10 small, RUNS_BIG=3 big by default)
# Targets (issue): small round trip faster than the CLI; big images within 1.05× of the CLI.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-10}
RUNS_BIG=${RUNS_BIG:-3}
if [ ! -s "$INPUTS/image-4000x3000.png" ]; then
    need ffmpeg ffmpeg; need gs ghostscript; need vips libvips-tools
    SKIP_BIG=1 "$ROOT/../shared/bench/make_inputs.sh" "$INPUTS"
fi

cli_once() { vips copy "$1" "$WORK/cli.$3"; }

bench_case() { # label file in out runs
    local c=() t
    cli_once "$2" "$3" "$4" # warm caches
    for _ in $(seq "$5"); do
        t=$(now_ms); cli_once "$2" "$3" "$4"; c+=($(( $(now_ms) - t )))
    done
    local ma mc
    ma=$(python3 "$ROOT/bench/image_client.py" "$PORT" "$KEY" "$2" "$3" "$4" "$5")
    mc=$(median "${c[@]}")
    printf '%-24s API %7s ms   vips CLI %7s ms   ratio %s\n' "$1" "$ma" "$mc" "$(ratio "$ma" "$mc")"
}

start_convertd --workers 2
echo "image benchmark: median of runs, API end to end (create, upload+wait, download) vs vips copy"
bench_case "png→jpg 96×60" "$INPUTS/image-96x60.png" png jpg "$RUNS"
bench_case "svg→png 1600×1200" "$INPUTS/drawing.svg" svg png "$RUNS_BIG"
bench_case "png→jpg 4000×3000" "$INPUTS/image-4000x3000.png" png jpg "$RUNS_BIG"
echo "(targets: small < 1.0, big <= 1.05)"
