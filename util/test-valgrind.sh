#!/bin/sh
# make test-valgrind: the suite with nginx under valgrind's memcheck
# (TEST_NGINX_USE_VALGRIND, suppressions from valgrind.suppress); any
# report valgrind.suppress does not name fails the block
# (TEST_NGINX_VALGRIND_FAIL): an invalid read or write, a use of
# uninitialised memory, a definite leak.
#
#   util/test-valgrind.sh <nginx binary> [prove arguments...]
#
# Without arguments: every file of t/ but those that measure time or load
# (040, 081, 160, 161, 164 to 167: under valgrind everything is some 30
# times slower) or start their own nginx outside the harness (170, 171).  Not
# in CI: it takes about 20 minutes.
#
# Ports and server root are private (override with the usual variables),
# so this runs beside `make test` and `make test-asan`.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
cd "$top"

export TEST_NGINX_USE_VALGRIND=${TEST_NGINX_USE_VALGRIND:-1}
export TEST_NGINX_VALGRIND_FAIL=1
# seconds a request may take (the harness's 3 s are for nginx at full
# speed; this is also the least of a block's own timeout under valgrind)
export TEST_NGINX_TIMEOUT=${TEST_NGINX_TIMEOUT:-60}
export TEST_NGINX_MEMCACHED_PORT=${TEST_NGINX_MEMCACHED_PORT:-22951}
export TEST_NGINX_SERVER_PORT=${TEST_NGINX_SERVER_PORT:-19951}
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-/tmp/servroot-valgrind}

if [ $# -eq 0 ]; then
    set -- $(ls t/*.t | grep -v -e '^t/040-' -e '^t/081-' -e '^t/160-' \
                                -e '^t/161-' -e '^t/16[4-7]-' -e '^t/17[01]-')
fi

exec "$top/util/test.sh" "$nginx" "$@"
