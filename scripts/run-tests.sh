#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-tests.sh - run every test suite and end with one line: "N passed, N failed, N skipped".
#
# One test is one Check test function (one TAP line of a unit test program), one meson test
# that does not speak TAP, or one mocha `it`. Suites:
#   0. the format check: clang-format-14 over the tracked C files (one test);
#   1. every meson test of ./build (the unit suite and whatever else tests/meson.build adds);
#   2. the unit suite again in ./build-asan, built with -Db_sanitize=address,undefined
#      (RUN_ASAN=0 leaves it out; a build folder that cannot be configured is skipped);
#   3. mocha over tests/integration/*.test.js and tests/compat/test/*.test.js, run from
#      tests/compat (whose node_modules holds mocha and the client libraries).
# Environment: BUILD (build), ASAN_BUILD (build-asan), RUN_ASAN (1), NINJAFLAGS (e.g. -j2),
# MOCHA_TIMEOUT (seconds for the whole mocha run, 1200).
# A suite whose folder does not exist yet is not run. Each suite prints its own summary as it
# goes; the totals are the last line of output, and the exit status is 1 if anything failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
RUN_ASAN=${RUN_ASAN:-1}
MOCHA_TIMEOUT=${MOCHA_TIMEOUT:-1200}

passed=0
failed=0
skipped=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

add() { # label passed failed skipped
    passed=$((passed + $2))
    failed=$((failed + $3))
    skipped=$((skipped + $4))
    echo "== $1: $2 passed, $3 failed, $4 skipped"
}

# Counts of a meson testlog.json as "P F S". A TAP program counts its TAP lines ("1..0 # SKIP"
# counts as one skipped test); a program that crashed, timed out or broke its plan without
# a "not ok" line still counts one failure. Other tests count one each by their result.
count_testlog() {
    python3 - "$1" <<'EOF'
import json, re, sys

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        if not line.strip():
            continue
        t = json.loads(line)
        result = t.get("result", "ERROR")
        p = fl = s = 0
        tap = False
        for out in (t.get("stdout") or "").splitlines():
            m = re.match(r"(not ok|ok)\b(.*)", out)
            if m:
                tap = True
                directive = re.search(r"#\s*(skip|todo)\b", m.group(2), re.I)
                if directive:
                    s += 1  # SKIP, or a TAP to-do directive: a known gap, neither pass nor failure
                elif m.group(1) == "ok":
                    p += 1
                else:
                    fl += 1
            elif re.match(r"1\.\.0\b.*#\s*skip", out, re.I):
                tap = True
                s += 1
        if not tap:
            if result in ("OK", "EXPECTEDFAIL"):
                p = 1
            elif result == "SKIP":
                s = 1
            else:
                fl = 1
        elif result not in ("OK", "SKIP", "EXPECTEDFAIL") and fl == 0:
            fl = 1
        passed += p
        failed += fl
        skipped += s
print(passed, failed, skipped)
EOF
}

# meson_suite LABEL BUILD_DIR [meson test arguments...]
meson_suite() {
    local label=$1 dir=$2 rc counts p f s
    shift 2
    echo "== $label: meson test -C $dir $*"
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --print-errorlogs "$@"
    rc=$?
    if [ ! -f "$dir/meson-logs/testlog.json" ]; then
        echo "== $label: meson test ran nothing (exit status $rc)"
        add "$label" 0 1 0
        return
    fi
    if ! counts=$(count_testlog "$dir/meson-logs/testlog.json"); then
        echo "== $label: cannot read $dir/meson-logs/testlog.json"
        add "$label" 0 1 0
        return
    fi
    read -r p f s <<<"$counts"
    # meson failed for a reason the log does not show as a failed test (a build error).
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    add "$label" "$p" "$f" "$s"
}

asan_suite() {
    local label="unit (asan+ubsan)"
    if [ "$RUN_ASAN" != 1 ]; then
        echo "== $label: not run (RUN_ASAN=$RUN_ASAN)"
        return
    fi
    if [ ! -f "$ASAN_BUILD/build.ninja" ]; then
        if ! meson setup "$ASAN_BUILD" -Db_sanitize=address,undefined -Dbuildtype=debug \
            >"$TMP/asan-setup.log" 2>&1; then
            echo "== $label: skipped, meson setup $ASAN_BUILD failed:"
            tail -n 5 "$TMP/asan-setup.log" | sed 's/^/   /'
            rm -rf "$ASAN_BUILD"
            add "$label" 0 0 1
            return
        fi
    fi
    echo "== $label: building in $ASAN_BUILD"
    # shellcheck disable=SC2086 # NINJAFLAGS is a list of words, e.g. "-j2 -v"
    if ! ninja -C "$ASAN_BUILD" ${NINJAFLAGS:-} >"$TMP/asan-build.log" 2>&1; then
        echo "== $label: build failed:"
        tail -n 30 "$TMP/asan-build.log" | sed 's/^/   /'
        add "$label" 0 1 0
        return
    fi
    # Codec libraries keep process-wide allocations they never free (x265's encoder state);
    # those are theirs, not leaks of ours. Only allocations made inside these libraries are
    # matched: a vips image we forget to unref is still reported.
    cat >"$TMP/lsan.supp" <<'EOF'
leak:libx265.so
leak:libde265.so
leak:libaom.so
leak:libdav1d.so
leak:libfontconfig.so
EOF
    # A sanitizer report must fail the test it happens in, never just print.
    LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TMP/lsan.supp:print_suppressions=0} \
        ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1} \
        meson_suite "$label" "$ASAN_BUILD" --suite unit --no-rebuild --timeout-multiplier 3
}

# Mocha with the spec reporter for the log, plus a reporter of our own that writes the
# counts to a file: mocha's JSON reporter shares stdout with anything a test prints.
# NODE_PATH lets tests/integration (outside tests/compat) require the same packages.
mocha_suite() {
    local label=mocha compat=tests/compat specs=() f rc counts p fl s
    for f in tests/integration/*.test.js; do
        [ -e "$f" ] && specs+=("../integration/${f##*/}")
    done
    for f in "$compat"/test/*.test.js; do
        [ -e "$f" ] && specs+=("test/${f##*/}")
    done
    if [ "${#specs[@]}" -eq 0 ]; then
        return
    fi
    echo "== $label: ${specs[*]}"
    if [ ! -x "$compat/node_modules/.bin/mocha" ]; then
        echo "== $label: $compat/node_modules/.bin/mocha is missing (scripts/install-deps.sh" \
            "installs it from $compat/package.json)"
        add "$label" 0 1 0
        return
    fi
    cat >"$TMP/count-reporter.cjs" <<'EOF'
'use strict';
const fs = require('fs');
const Mocha = require(require.resolve('mocha', { paths: [process.cwd()] }));

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++); /* failed hooks too: they fail the run */
    runner.on('pending', () => counts.skipped++);
    runner.once('end', () => {
      fs.writeFileSync(process.env.CONVERTD_MOCHA_COUNTS, JSON.stringify(counts));
    });
  }
}

module.exports = CountingSpec;
EOF
    (
        cd "$compat" &&
            CONVERTD_BIN="$ROOT/$BUILD/server/convertd" \
                NODE_PATH="$ROOT/$compat/node_modules" \
                CONVERTD_MOCHA_COUNTS="$TMP/mocha-counts.json" \
                timeout --kill-after=10 "$MOCHA_TIMEOUT" \
                ./node_modules/.bin/mocha --exit --reporter "$TMP/count-reporter.cjs" "${specs[@]}"
    )
    rc=$?
    if [ ! -f "$TMP/mocha-counts.json" ]; then
        echo "== $label: mocha ended without results (exit status $rc)"
        add "$label" 0 1 0
        return
    fi
    counts=$(node -e 'const c = require(process.argv[1]);
                      console.log(c.passed, c.failed, c.skipped);' "$TMP/mocha-counts.json")
    read -r p fl s <<<"$counts"
    if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then
        fl=1
    fi
    add "$label" "$p" "$fl" "$s"
}

# One test: every tracked C file is formatted as .clang-format says (STYLE.md section 12,
# clang-format 14 as in Debian 12).
format_check() {
    local label="format (clang-format-14)"
    if ! command -v clang-format-14 >/dev/null 2>&1; then
        echo "== $label: skipped, clang-format-14 is not installed"
        add "$label" 0 0 1
        return
    fi
    if git ls-files -z '*.c' '*.h' | xargs -0 clang-format-14 --dry-run -Werror \
        >"$TMP/format.log" 2>&1; then
        add "$label" 1 0 0
    else
        grep -m 20 'error:' "$TMP/format.log" | sed 's/^/   /'
        echo "   (fix with: git ls-files '*.c' '*.h' | xargs clang-format-14 -i)"
        add "$label" 0 1 0
    fi
}

format_check
if [ ! -f "$BUILD/build.ninja" ]; then
    echo "== $BUILD is not configured: run \`make build\` first"
    add "meson" 0 1 0
else
    meson_suite "meson tests" "$BUILD"
fi
asan_suite
mocha_suite

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
