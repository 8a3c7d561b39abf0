#!/bin/sh
# Installs clang and its sanitizer and libFuzzer runtimes (Debian 12:
# clang 14; the runtimes are in libclang-rt-14-dev), with the rest of the
# project's packages, only those missing.  Used by fuzz/build.sh and
# make test-asan.
set -eu

exec "$(dirname "$0")/../util/deps.sh" build clang libclang-rt-14-dev
