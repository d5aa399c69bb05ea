#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install-deps.sh - install what building and testing convertd needs, and only what is missing.
#
# Debian 12 packages through apt-get, Node.js (for the client-library compatibility tests),
# then the npm packages of tests/compat. Safe to run again: with everything present it
# touches nothing and prints one line.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
    build-essential pkg-config meson ninja-build
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libvips-dev libvips-tools
    libcurl4-openssl-dev libarchive-dev check libseccomp-dev libssl-dev
    libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev
    libavutil-dev ffmpeg libqpdf-dev ghostscript qpdf poppler-utils python3
    sqlite3 curl ca-certificates clang-format-14
)

# Helper programs for documents, installed without their recommendations (those would add
# desktop integration, Java and hundreds of MB that a headless converter never uses).
HELPERS=(
    chromium libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
    python3-uno fonts-dejavu-core fonts-liberation2
    # real servers the storage tests start on 127.0.0.1: S3 (OpenStack Swift with s3api,
    # which checks Signature V4), FTP(S) and an SMTP sink
    swift swift-proxy swift-account swift-container swift-object
    python3-pyftpdlib python3-aiosmtpd python3-openssl openssl
)

# As root directly (CI containers, Docker), else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "install-deps: need root or sudo to run: $*" >&2
        exit 1
    fi
}

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

updated=0
apt_install() {
    # sudo resets the environment, so the variable goes through env(1).
    if [ "$updated" = 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

missing=()
for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
done

# Node.js: keep one that is already on PATH. Some machines have it from another repository
# (NodeSource), whose nodejs package conflicts with Debian's npm package.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    is_installed nodejs || missing+=(nodejs)
    is_installed npm || missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

missing=()
for p in "${HELPERS[@]}"; do
    is_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    apt_install --no-install-recommends "${missing[@]}"
fi

# The compatibility tests run the real client libraries from npm. Reinstall only when
# node_modules is missing or older than the manifest (or the lockfile).
compat=tests/compat
if [ -f "$compat/package.json" ]; then
    stale=0
    if [ ! -d "$compat/node_modules" ] || [ "$compat/package.json" -nt "$compat/node_modules" ]; then
        stale=1
    elif [ -f "$compat/package-lock.json" ] &&
        [ "$compat/package-lock.json" -nt "$compat/node_modules" ]; then
        stale=1
    fi
    if [ "$stale" = 1 ]; then
        echo "install-deps: npm packages in $compat"
        if [ -f "$compat/package-lock.json" ]; then
            (cd "$compat" && npm ci --no-audit --no-fund)
        else
            (cd "$compat" && npm install --no-audit --no-fund)
        fi
        # npm leaves the folder's mtime alone when nothing changed; mark it current.
        touch "$compat/node_modules"
    fi
fi

echo "install-deps: all dependencies present"
