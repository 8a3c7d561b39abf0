#!/bin/sh
# Installs clang and its sanitizer and libFuzzer runtimes (Debian 12:
# clang 14; the runtimes are in libclang-rt-14-dev), only when missing.
# Used by fuzz/build.sh and fuzz/test-asan.sh's build (make test-asan).
set -eu

PACKAGES="clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "installing:$missing"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
    --no-install-recommends $missing
