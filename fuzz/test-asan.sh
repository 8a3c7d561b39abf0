#!/bin/sh
# make test-asan: the whole t/ suite against an nginx built with
# -fsanitize=address,undefined; fails on any sanitizer report, even one
# the tests themselves did not notice.
#
#   fuzz/test-asan.sh <nginx binary> [prove arguments...]
#
# Where the reports go: nginx redirects its stderr into error.log once it
# has started, and the harness wipes the server root before every block,
# so reports on stderr would be lost or mixed with the logs.  Instead
# every process writes its reports to a file of its own (log_path, one
# file per pid) under build/asan/reports/; any file there after the run
# is a failure, and its contents are shown.
#
# Leaks: detect_leaks=0.  With leak checking on, every nginx process
# reports at exit memory that nginx 1.22.1 itself keeps until exit() by
# design: the connection and event arrays (ngx_event_process_init), the
# initial cycle's pool (main(), in nginx -t and failed starts), PCRE2's
# compiled regexes.  A full run showed only those, nothing of the module's.
# They cannot be suppressed narrowly enough: LeakSanitizer hides whatever a
# suppressed block points to, so suppressing the pool would hide a pool the
# module leaked.  Leaks stay checked by the fuzzers (LeakSanitizer after
# every input) and by the valgrind run (TEST_NGINX_USE_VALGRIND=1).
# ASAN_OPTIONS=detect_leaks=1 make test-asan turns it on (the caller's
# options come last and win).
#
# UBSan: halt_on_error=1, and fuzz/ubsan.supp for the undefined behaviour
# in nginx's own files (memcpy(d, NULL, 0), NULL + 0, a signed shift in
# murmurhash), which the module cannot fix; a report from the module's
# files is never suppressed.
#
# Ports and server root are private (override with the usual variables),
# so this runs beside `make test`.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift

reports=$top/build/asan/reports
rm -rf "$reports"
mkdir -p "$reports"

ASAN_OPTIONS="log_path=$reports/report:detect_leaks=0\
${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="log_path=$reports/report:halt_on_error=1:print_stacktrace=1\
:suppressions=$top/fuzz/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

export TEST_NGINX_MEMCACHED_PORT=${TEST_NGINX_MEMCACHED_PORT:-22911}
export TEST_NGINX_SERVER_PORT=${TEST_NGINX_SERVER_PORT:-19931}
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-/tmp/servroot-asan}

rc=0
"$top/util/test.sh" "$nginx" "$@" || rc=$?

found=$(find "$reports" -type f | sort)

if [ -n "$found" ]; then
    # the first reports whole, then one line per distinct error
    for f in $(echo "$found" | head -5); do
        echo "==== sanitizer report $f" >&2
        cat "$f" >&2
    done
    echo "==== distinct errors, with the number of processes:" >&2
    cat $found | grep -E 'runtime error|ERROR: [A-Za-z]+Sanitizer' \
        | sed 's/^==[0-9]*==//' | sort | uniq -c | sort -rn >&2
    echo "test-asan: sanitizer reports of $(echo "$found" | wc -l)" \
         "process(es) in $reports" >&2
    exit 1
fi

if [ $rc != 0 ]; then
    echo "test-asan: the suite failed (no sanitizer report)" >&2
    exit $rc
fi

echo "test-asan: the suite passed with no sanitizer report"
