#!/bin/bash
# make test: the Test::Nginx suite under t/, against <nginx binary>, with
# a private memcached that is stopped again however the run ends.
#
#   util/test.sh <nginx binary> [prove arguments...]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=$1
shift
cd "$top"

export TEST_NGINX_BINARY=$nginx
export TEST_NGINX_MEMCACHED_PORT=${TEST_NGINX_MEMCACHED_PORT:-21211}
export TEST_NGINX_SERVER_PORT=${TEST_NGINX_SERVER_PORT:-1984}

piddir=$(mktemp -d)
mcpid=$piddir/memcached.pid

cleanup() {
    if [ -f "$mcpid" ]; then
        kill "$(cat "$mcpid")" 2>/dev/null || true
        # a rerun on the same port must find it free
        for _ in $(seq 100); do
            listening "$TEST_NGINX_MEMCACHED_PORT" || break
            sleep 0.05
        done
    fi
    rm -rf "$piddir"
}
trap cleanup EXIT INT TERM

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if listening "$TEST_NGINX_MEMCACHED_PORT"; then
    echo "port $TEST_NGINX_MEMCACHED_PORT is taken: set TEST_NGINX_MEMCACHED_PORT" >&2
    exit 1
fi

memcached -d -l 127.0.0.1 -p "$TEST_NGINX_MEMCACHED_PORT" -U 0 -u root \
    -m 256 -P "$mcpid"
for _ in $(seq 100); do
    listening "$TEST_NGINX_MEMCACHED_PORT" && break
    sleep 0.05
done

# the upstream Test::Nginx wins where it is installed
lib=""
if ! perl -MTest::Nginx::Socket -e1 2>/dev/null; then
    lib="-I t/lib"
fi

if [ $# -eq 0 ]; then
    set -- -r t
fi

prove $lib "$@"
